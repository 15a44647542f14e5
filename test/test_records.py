"""The records written to Kafka: results as JSON whose fields are exactly the schemas' (names, order, types) and
readable back by Spark with them; dead letters as the original record with context headers; each within one
record's size."""

from __future__ import annotations

import datetime
import json

from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
)

from app import __version__
from app.contract import Entity, RecordBudget, Source, headers_bytes
from app.entity_types import ENTITY_TYPES_VERSION
from app.records import dead_letter, iso_millis, passthrough_headers, result_key, result_value
from app.schemas import DEAD_LETTER_HEADERS, ENTITY_SCHEMA, RESULT_SCHEMA
from test.helpers.annotating import context

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
    if isinstance(schema, MapType):
        return isinstance(value, dict) and all(
            conforms(k, schema.keyType) and conforms(v, schema.valueType) for k, v in value.items()
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
    assert parsed["passthrough"] == {}


def test_passthrough_fields_are_a_map_of_text():
    value = result_value("u", "en", None, [], ("m", "1"), SOURCE, 0, (("tenant", "t-9"), ("n", "7")))
    parsed = json.loads(value)
    assert parsed["passthrough"] == {"tenant": "t-9", "n": "7"} and conforms(parsed, RESULT_SCHEMA)


def test_a_dead_letter_is_the_original_record_byte_for_byte_with_its_context_in_headers():
    original = (("trace", b"abc"), ("tenant", b"\x00\xff"), ("empty", None))
    key, value, headers = dead_letter(
        "invalid_json", "not JSON", b"k\xff", b"\xfe{", original, SOURCE, 1_764_754_600_000, RecordBudget(2**20)
    )
    assert (key, value) == (b"k\xff", b"\xfe{")
    assert headers[: len(original)] == original  # the input's headers first, in order
    found = context(headers)
    assert set(found) <= set(DEAD_LETTER_HEADERS) and "dropped" not in found
    assert found == {
        "reason": "invalid_json",
        "detail": "not JSON",
        "topic": "input",
        "partition": "3",
        "offset": "42",
        "timestamp": "1764754517289",
        "failed_at": "1764754600000",
        "version": __version__,
    }


def test_context_headers_an_input_already_carries_are_replaced_not_repeated():
    stale = (("__ner.errors.reason", b"poison"), ("__ner.errors.detail", b"old"), ("keep", b"1"))
    _, _, headers = dead_letter("empty_text", "now", None, b"{}", stale, SOURCE, 0, RecordBudget(2**20))
    names = [k for k, _ in headers]
    assert names.count("__ner.errors.reason") == 1 and context(headers)["reason"] == "empty_text"
    assert headers[0] == ("keep", b"1")


def test_a_record_that_cannot_fit_leaves_out_its_value_then_headers_then_key_and_says_so():
    budget = RecordBudget(64 * 1024)
    big_headers = tuple((f"h{i}", b"v" * 1000) for i in range(80))
    cases = [  # (key, value, headers) -> what is dropped
        ((b"k", b"x" * 70_000, ()), "value"),
        ((b"k", b"x" * 70_000, big_headers), "value,headers"),
        ((b"k" * 70_000, b"x" * 70_000, big_headers), "value,headers,key"),
        ((b"k", b"x" * 40_000, ()), None),
    ]
    for (key, value, headers), dropped in cases:
        k, v, h = dead_letter("text_too_long", "d" * 500, key, value, headers, SOURCE, 0, budget)
        assert len(k or b"") + len(v or b"") + headers_bytes(h) <= budget.max_dead_letter_bytes
        assert context(h).get("dropped") == dropped
        assert context(h)["reason"] == "text_too_long"
        if dropped is None:
            assert (k, v) == (key, value)


def test_a_null_key_and_value_stay_null():
    key, value, headers = dead_letter("null_value", "null", None, None, (), SOURCE, 0, RecordBudget(1024 * 1024))
    assert key is None and value is None and context(headers)["reason"] == "null_value"


def test_result_keys_and_passthrough_headers():
    assert result_key("source", "u", b"k", SOURCE) == b"input/3/42"
    assert result_key("uuid", "u-1", b"k", SOURCE) == b"u-1"
    assert result_key("input-key", "u", None, SOURCE) is None
    headers = (("a", b"1"), ("__ner.errors.reason", b"x"), ("b", None), ("a", b"2"))
    assert passthrough_headers(headers, ("*",)) == (("a", b"1"), ("b", None), ("a", b"2"))
    assert passthrough_headers(headers, ("a",)) == (("a", b"1"), ("a", b"2"))
    assert passthrough_headers(headers, ()) == ()


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
