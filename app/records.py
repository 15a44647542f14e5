"""The records this service writes, as finished Kafka bytes: JSON shaped by the schemas in app/schemas.py and
sized to fit one Kafka record. Built in the Python worker, so the JVM only routes bytes (no struct conversion, no
to_json)."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from app.models import ENTITY_TYPES_VERSION
from app.ner import Entity
from app.schemas import (
    DEAD_LETTER_SCHEMA,
    ENTITY_SCHEMA,
    LANG_DETECTION_SCHEMA,
    MODEL_SCHEMA,
    RESULT_SCHEMA,
    SOURCE_SCHEMA,
)

# Kafka's default record limit (the producer's max.request.size and a topic's max.message.bytes): the size the
# job assumes when it has no broker to ask (batch mode); the stream reads the real limits at start.
DEFAULT_RECORD_BYTES = 1024 * 1024
# Room in a record for what is not key or payload: Kafka's record and batch headers (under 100 bytes), and for a
# dead letter its reason, detail (at most 500 characters, up to 6 bytes each once JSON-escaped), timestamps and
# source (a topic name is at most 249 characters).
RECORD_OVERHEAD_BYTES = 8 * 1024
# Each record's fields in the schema's order: the JSON keys come from here, never typed by hand.
RESULT_FIELDS = tuple(f.name for f in RESULT_SCHEMA.fields)
DEAD_LETTER_FIELDS = tuple(f.name for f in DEAD_LETTER_SCHEMA.fields)
ENTITY_FIELDS = tuple(f.name for f in ENTITY_SCHEMA.fields)
MODEL_FIELDS = tuple(f.name for f in MODEL_SCHEMA.fields)
SOURCE_FIELDS = tuple(f.name for f in SOURCE_SCHEMA.fields)
LANG_DETECTION_FIELDS = tuple(f.name for f in LANG_DETECTION_SCHEMA.fields)


@dataclass(frozen=True)
class RecordBudget:
    """How large a record may be, and how much of one input message a dead letter keeps so that it fits."""

    record_bytes: int

    @property
    def max_result_bytes(self) -> int:
        """Key and value of a result together."""
        return self.record_bytes - RECORD_OVERHEAD_BYTES

    @property
    def key_bytes(self) -> int:
        return self.record_bytes // 16

    @property
    def value_bytes(self) -> int:
        # base64 turns 3 bytes into 4: keep a multiple of 3 so the kept prefix decodes on its own.
        return (self.record_bytes - RECORD_OVERHEAD_BYTES - self.key_bytes) * 3 // 4 // 3 * 3


@dataclass(frozen=True)
class Source:
    """Where a message came from (its identity) and when Kafka received it."""

    topic: str
    partition: int
    offset: int
    received_ms: int | None


def iso_millis(ms: int | None) -> str | None:
    """UTC, millisecond precision, as Spark's JSON writes timestamps: 2026-12-03T09:25:17.289Z."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _source(source: Source) -> dict:
    return dict(zip(SOURCE_FIELDS, (source.topic, source.partition, source.offset), strict=True))


def result_value(uuid: str, lang: str, detection: tuple[str, float] | None, entities: Sequence[Entity],
                 model: tuple[str, str], source: Source, processed_ms: int) -> bytes:
    """`detection` is (language, confidence) when the service detected the language, None when it was given."""
    found = [dict(zip(ENTITY_FIELDS, (e.text, e.label, e.type, e.start_char, e.end_char), strict=True))
             for e in entities]
    detected = None if detection is None else dict(zip(LANG_DETECTION_FIELDS, detection, strict=True))
    return orjson.dumps(dict(zip(RESULT_FIELDS, (
        uuid, lang, detected, found, dict(zip(MODEL_FIELDS, (*model, ENTITY_TYPES_VERSION), strict=True)),
        _source(source), iso_millis(source.received_ms), iso_millis(processed_ms)), strict=True)))


def dead_letter(reason: str, detail: str, key: bytes | None, value: bytes | None, source: Source, failed_ms: int,
                budget: RecordBudget) -> tuple[bytes | None, bytes]:
    """The dead letter's key and value: the original key and value cut to their share of one record, with both
    full sizes (the whole message stays in the input topic at its source offset)."""
    kept = None if value is None else base64.b64encode(value[:budget.value_bytes]).decode("ascii")
    record = orjson.dumps(dict(zip(DEAD_LETTER_FIELDS, (
        reason, detail, None if key is None else len(key), kept, None if value is None else len(value),
        _source(source), iso_millis(source.received_ms), iso_millis(failed_ms)), strict=True)))
    return (None if key is None else key[:budget.key_bytes]), record
