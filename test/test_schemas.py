"""The declared records: the output JSON is built from these schemas."""

import pytest
from pyspark.sql import functions as F

from app.schemas import DEAD_LETTER_SCHEMA, ENTITY_SCHEMA, INFERENCE_SCHEMA, RESULT_SCHEMA
from app.transform import build_struct


def test_result_carries_what_consumers_need():
    assert RESULT_SCHEMA.fieldNames() == ["uuid", "lang", "entities", "model", "source", "received_at",
                                          "processed_at"]
    assert ENTITY_SCHEMA.fieldNames() == ["text", "label", "start_char", "end_char"]


def test_dead_letter_keeps_the_original_bytes_and_where_they_came_from():
    assert {"reason", "detail", "value_base64", "source"} <= set(DEAD_LETTER_SCHEMA.fieldNames())


def test_inference_schema_has_every_result_field_it_feeds():
    assert {"uuid", "lang", "entities", "reason", "detail"} <= set(INFERENCE_SCHEMA.fieldNames())


def test_build_struct_rejects_a_missing_or_extra_field(spark):
    with pytest.raises(ValueError, match="do not match"):
        build_struct(ENTITY_SCHEMA, {"text": F.lit("x")})


def test_build_struct_orders_and_casts(spark):
    cols = {"end_char": F.lit("15"), "text": F.lit("Ulm"), "start_char": F.lit(12), "label": F.lit("GPE")}
    row = spark.range(1).select(F.to_json(build_struct(ENTITY_SCHEMA, cols)).alias("j")).first()
    assert row.j == '{"text":"Ulm","label":"GPE","start_char":12,"end_char":15}'
