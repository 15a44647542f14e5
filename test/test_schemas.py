"""The schemas consumers and producers see: every record's field names, in order, and the annotator's schema as
the Arrow schema the Python workers return."""

import pyarrow as pa
import pytest
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from app.schemas import (
    ANNOTATED_SCHEMA,
    DEAD_LETTER_FILE_SCHEMA,
    DEAD_LETTER_HEADERS,
    ENTITY_SCHEMA,
    INPUT_SCHEMA,
    LANG_DETECTION_SCHEMA,
    MODEL_SCHEMA,
    RESULT_SCHEMA,
    SOURCE_SCHEMA,
)


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        (INPUT_SCHEMA, "uuid text lang"),
        (ENTITY_SCHEMA, "text label type start_char end_char"),
        (MODEL_SCHEMA, "name version types"),
        (LANG_DETECTION_SCHEMA, "language confidence"),
        (SOURCE_SCHEMA, "topic partition offset"),
        (ANNOTATED_SCHEMA, "ok key value headers reason stats"),
        (RESULT_SCHEMA, "uuid lang lang_detection entities model source received_at processed_at passthrough"),
        (DEAD_LETTER_FILE_SCHEMA, "reason detail source failed_at key value"),
    ],
)
def test_field_names_are_the_contract(schema, names):
    assert schema.fieldNames() == names.split()


def test_records_nest_the_shared_parts():
    result = {f.name: f.dataType for f in RESULT_SCHEMA.fields}
    assert result["entities"].elementType == ENTITY_SCHEMA
    assert (result["model"], result["source"], result["lang_detection"]) == (
        MODEL_SCHEMA,
        SOURCE_SCHEMA,
        LANG_DETECTION_SCHEMA,
    )
    assert DEAD_LETTER_FILE_SCHEMA["source"].dataType == SOURCE_SCHEMA


def test_the_dead_letter_headers_are_the_contract():
    assert (
        list(DEAD_LETTER_HEADERS) == "reason detail topic partition offset timestamp failed_at version dropped".split()
    )


def test_the_annotated_schema_is_an_arrow_schema():
    assert to_arrow_schema(ANNOTATED_SCHEMA) == pa.schema(
        [
            ("ok", pa.bool_()),
            ("key", pa.binary()),
            ("value", pa.binary()),
            ("headers", pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))),
            ("reason", pa.string()),
            ("stats", pa.string()),
        ]
    )


@pytest.mark.parametrize("schema", [INPUT_SCHEMA, RESULT_SCHEMA, DEAD_LETTER_FILE_SCHEMA])
def test_every_field_is_nullable_so_casts_never_fail_on_nullability(schema: StructType):
    assert all(f.nullable for f in schema.fields)
