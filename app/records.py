"""The records this service writes, as finished Kafka bytes: a result's JSON shaped by the schemas in
app/schemas.py, a dead letter's original bytes with context headers; each sized to fit one Kafka record.
Built in the Python worker, so the JVM only routes bytes (no struct conversion, no to_json)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import orjson

from app import __version__
from app.contract import Entity, Headers, RecordBudget, Source, headers_bytes
from app.entity_types import ENTITY_TYPES_VERSION
from app.schemas import (
    DEAD_LETTER_HEADER_PREFIX,
    ENTITY_SCHEMA,
    LANG_DETECTION_SCHEMA,
    MODEL_SCHEMA,
    RESULT_SCHEMA,
    SOURCE_SCHEMA,
)

# Each record's fields in the schema's order: the JSON keys come from here, never typed by hand.
RESULT_FIELDS = tuple(f.name for f in RESULT_SCHEMA.fields)
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


def source_key(source: Source) -> bytes:
    """topic/partition/offset: the input record's identity, so no two results share a key (RESULT_KEY=source)."""
    return f"{source.topic}/{source.partition}/{source.offset}".encode()


def result_key(choice: str, uuid: str, key: bytes | None, source: Source) -> bytes | None:
    """The result's key for RESULT_KEY (source, uuid or input-key)."""
    if choice == "uuid":
        return uuid.encode("utf-8")
    if choice == "input-key":
        return key
    return source_key(source)


def passthrough_headers(headers: Headers, names: tuple[str, ...]) -> Headers:
    """The input headers a result carries (PASSTHROUGH_HEADERS: ("*",) all, or these names), in their order; never
    a dead letter's context headers (a message replayed by hand may still carry them)."""
    kept = tuple(h for h in headers if not h[0].startswith(DEAD_LETTER_HEADER_PREFIX))
    return kept if names == ("*",) else tuple(h for h in kept if h[0] in names)


def result_value(
    uuid: str,
    lang: str,
    detection: tuple[str, float] | None,
    entities: Sequence[Entity],
    model: tuple[str, str],
    source: Source,
    processed_ms: int,
    passthrough: tuple[tuple[str, str], ...] = (),
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
                    dict(passthrough),
                ),
                strict=True,
            )
        )
    )


def _context(reason: str, detail: str, source: Source, failed_ms: int) -> Headers:
    values = {
        "reason": reason,
        "detail": detail,
        "topic": source.topic,
        "partition": str(source.partition),
        "offset": str(source.offset),
        "timestamp": None if source.received_ms is None else str(source.received_ms),
        "failed_at": str(failed_ms),
        "version": __version__,
    }
    return tuple(
        (DEAD_LETTER_HEADER_PREFIX + name, value.encode("utf-8", "backslashreplace"))
        for name, value in values.items()
        if value is not None
    )


def dead_letter(
    reason: str,
    detail: str,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    source: Source,
    failed_ms: int,
    budget: RecordBudget,
) -> tuple[bytes | None, bytes | None, Headers]:
    """The dead letter's key, value and headers: the original record byte for byte, its own context headers
    replaced by this failure's (DEAD_LETTER_HEADERS).

    A record that does not fit one output record with its context (the input topic allows larger records than
    the sink, or the original was close to the limit) leaves out its value, then its headers, then its key, until
    it fits, and says so in the `dropped` header: the whole original stays in the input topic at its source offset.
    """
    original = tuple(h for h in headers if not h[0].startswith(DEAD_LETTER_HEADER_PREFIX))
    context = _context(reason, detail, source, failed_ms)
    dropped: list[str] = []
    marker = ((DEAD_LETTER_HEADER_PREFIX + "dropped", b"value,headers,key"),)  # at its largest

    def fits() -> bool:
        body = len(key or b"") + len(value or b"")
        return body + headers_bytes(original + context + (marker if dropped else ())) <= budget.max_dead_letter_bytes

    if not fits():
        value, dropped = None, [*dropped, "value"]
    if not fits():
        original, dropped = (), [*dropped, "headers"]
    if not fits():
        key, dropped = None, [*dropped, "key"]
    if dropped:
        context += ((DEAD_LETTER_HEADER_PREFIX + "dropped", ",".join(dropped).encode()),)
    return key, value, original + context
