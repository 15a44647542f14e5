"""The records written to Kafka: JSON whose fields are exactly the schemas' (names, order, types), within one
record's size, and readable back by Spark with those schemas."""

from __future__ import annotations

import base64
import datetime
import json

from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, IntegerType, LongType, StringType, StructType, TimestampType

from app.contract import RECORD_OVERHEAD_BYTES, Entity, RecordBudget, Source
from app.entity_types import ENTITY_TYPES_VERSION
from app.records import dead_letter, iso_millis, result_value
from app.schemas import DEAD_LETTER_SCHEMA, ENTITY_SCHEMA, RESULT_SCHEMA

SOURCE = Source("input", 3, 42, 1_764_754_517_289)


def conforms(value: object, schema: DataType) -> bool:
    """`value` (parsed JSON) has exactly the shape of a Spark type: a struct's fields in order, nulls allowed."""
    if value is None:
        return True
    if isinstance(schema, StructType):
        return (
            isinstance(value, dict)
            and list(value) == schema.fieldNames()
            and all(conforms(value[f.name], f.dataType) for f in schema.fields)
        )
    if isinstance(schema, ArrayType):
        return isinstance(value, list) and all(conforms(v, schema.elementType) for v in value)
    if isinstance(schema, (IntegerType, LongType)):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(schema, TimestampType):
        return isinstance(value, str) and datetime.datetime.fromisoformat(value).tzinfo is not None
    if isinstance(schema, StringType):
        return isinstance(value, str)
    return False


def test_a_result_is_the_result_schema():
    value = result_value(
        "u-1",
        "en",
        None,
        [Entity("Ulm", "GPE", "LOCATION", 27, 30)],
        ("en_core_web_sm", "3.8.0"),
        SOURCE,
        1_764_754_518_000,
    )
    parsed = json.loads(value)
    assert conforms(parsed, RESULT_SCHEMA)
    assert parsed["entities"] == [{"text": "Ulm", "label": "GPE", "type": "LOCATION", "start_char": 27, "end_char": 30}]
    assert parsed["lang_detection"] is None and parsed["model"]["types"] == ENTITY_TYPES_VERSION
    assert list(parsed["entities"][0]) == ENTITY_SCHEMA.fieldNames()
    assert parsed["source"] == {"topic": "input", "partition": 3, "offset": 42}
    assert parsed["received_at"] == "2025-12-03T09:35:17.289Z"


def test_a_dead_letter_is_the_dead_letter_schema_and_fits_one_record():
    budget = RecordBudget(1024 * 1024)
    key, value = dead_letter("invalid_json", "x" * 500, b"K" * 900_000, b"\xff" * 3_000_000, SOURCE, 0, budget)
    parsed = json.loads(value)
    assert conforms(parsed, DEAD_LETTER_SCHEMA)
    assert key == b"K" * budget.key_bytes and parsed["key_bytes"] == 900_000
    assert base64.b64decode(parsed["value_base64"]) == b"\xff" * budget.value_bytes
    assert parsed["value_bytes"] == 3_000_000
    assert len(key) + len(value) <= budget.record_bytes - RECORD_OVERHEAD_BYTES + 4096


def test_a_null_key_and_value_stay_null():
    key, value = dead_letter("null_value", "null", None, None, SOURCE, 0, RecordBudget(1024 * 1024))
    parsed = json.loads(value)
    assert key is None and parsed["key_bytes"] is None and parsed["value_base64"] is None
    assert conforms(parsed, DEAD_LETTER_SCHEMA)


def test_timestamps_are_utc_with_milliseconds():
    assert iso_millis(0) == "1970-01-01T00:00:00.000Z"
    assert iso_millis(1_764_754_517_009) == "2025-12-03T09:35:17.009Z"
    assert iso_millis(None) is None


def test_spark_reads_the_records_back_with_the_schemas(spark):
    value = result_value(
        "u", "fr", ("fr", 0.93), [Entity("Ulm", "LOC", "LOCATION", 0, 3)], ("m", "1"), SOURCE, 1_764_754_518_000
    )
    row = (
        spark.createDataFrame([(value.decode(),)], "j string")
        .select(F.from_json("j", RESULT_SCHEMA, {"mode": "FAILFAST"}).alias("r"))
        .first()
        .r
    )
    assert row.uuid == "u" and row.entities[0].type == "LOCATION" and row.source.offset == 42
    assert row.lang_detection.language == "fr" and row.lang_detection.confidence == 0.93
    assert row.received_at.replace(tzinfo=None) == datetime.datetime(2025, 12, 3, 9, 35, 17, 289000)


def test_a_record_limit_under_the_overhead_keeps_none_of_the_value():
    """value_bytes once went negative there, and value[:negative] kept almost the whole message."""
    budget = RecordBudget(8_000)
    assert budget.value_bytes == 0
    _, value = dead_letter("invalid_json", "x", b"k", b"\xff" * 300_000, Source("in", 0, 0, 0), 0, budget)
    assert len(value) < 1_000
