"""The records this service writes, as finished Kafka bytes: JSON shaped by the schemas in app/schemas.py and
sized to fit one Kafka record. Built in the Python worker, so the JVM only routes bytes (no struct conversion, no
to_json)."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence

import orjson

from app.contract import Entity, RecordBudget, Source
from app.entity_types import ENTITY_TYPES_VERSION
from app.schemas import (
    DEAD_LETTER_SCHEMA,
    ENTITY_SCHEMA,
    LANG_DETECTION_SCHEMA,
    MODEL_SCHEMA,
    RESULT_SCHEMA,
    SOURCE_SCHEMA,
)

# Each record's fields in the schema's order: the JSON keys come from here, never typed by hand.
RESULT_FIELDS = tuple(f.name for f in RESULT_SCHEMA.fields)
DEAD_LETTER_FIELDS = tuple(f.name for f in DEAD_LETTER_SCHEMA.fields)
ENTITY_FIELDS = tuple(f.name for f in ENTITY_SCHEMA.fields)
MODEL_FIELDS = tuple(f.name for f in MODEL_SCHEMA.fields)
SOURCE_FIELDS = tuple(f.name for f in SOURCE_SCHEMA.fields)
LANG_DETECTION_FIELDS = tuple(f.name for f in LANG_DETECTION_SCHEMA.fields)


def iso_millis(ms: int | None) -> str | None:
    """UTC, millisecond precision, as Spark's JSON writes timestamps: 2026-12-03T09:25:17.289Z."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)  # the year padded by hand: strftime's %Y gives "1", not "0001"
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"


def _source(source: Source) -> dict:
    return dict(zip(SOURCE_FIELDS, (source.topic, source.partition, source.offset), strict=True))


def result_value(
    uuid: str,
    lang: str,
    detection: tuple[str, float] | None,
    entities: Sequence[Entity],
    model: tuple[str, str],
    source: Source,
    processed_ms: int,
) -> bytes:
    """`detection` is (language, confidence) when the service detected the language, None when it was given."""
    found = [
        dict(zip(ENTITY_FIELDS, (e.text, e.label, e.type, e.start_char, e.end_char), strict=True)) for e in entities
    ]
    detected = None if detection is None else dict(zip(LANG_DETECTION_FIELDS, detection, strict=True))
    return orjson.dumps(
        dict(
            zip(
                RESULT_FIELDS,
                (
                    uuid,
                    lang,
                    detected,
                    found,
                    dict(zip(MODEL_FIELDS, (*model, ENTITY_TYPES_VERSION), strict=True)),
                    _source(source),
                    iso_millis(source.received_ms),
                    iso_millis(processed_ms),
                ),
                strict=True,
            )
        )
    )


def dead_letter(
    reason: str,
    detail: str,
    key: bytes | None,
    value: bytes | None,
    source: Source,
    failed_ms: int,
    budget: RecordBudget,
) -> tuple[bytes | None, bytes]:
    """The dead letter's key and value: the original key and value cut to their share of one record, with both
    full sizes (the whole message stays in the input topic at its source offset)."""
    kept = None if value is None else base64.b64encode(value[: budget.value_bytes]).decode("ascii")
    record = orjson.dumps(
        dict(
            zip(
                DEAD_LETTER_FIELDS,
                (
                    reason,
                    detail,
                    None if key is None else len(key),
                    kept,
                    None if value is None else len(value),
                    _source(source),
                    iso_millis(source.received_ms),
                    iso_millis(failed_ms),
                ),
                strict=True,
            )
        )
    )
    return (None if key is None else key[: budget.key_bytes]), record
