"""The types every room shares, declared once: what a message is, why one is rejected, where it came from, what
inference finds, what one output row is, and the per-batch statistics the Python workers hand to the driver.

Rooms import from here and never from each other for a type; the data path runs one way:
spark (rows) -> annotate (the per-message boundary) -> inference (entities) -> records (bytes).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import orjson


class Reason(StrEnum):
    """Machine-readable dead-letter reasons."""

    NULL_VALUE = "null_value"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_UUID = "missing_uuid"
    INVALID_UUID = "invalid_uuid"
    MISSING_TEXT = "missing_text"
    INVALID_TEXT = "invalid_text"
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    INVALID_LANG = "invalid_lang"
    UNSUPPORTED_LANG = "unsupported_lang"
    # lang omitted or "auto", and the detector was not sure enough (LANG_MIN_CONFIDENCE).
    LANG_UNCERTAIN = "lang_uncertain"
    INFERENCE_ERROR = "inference_error"
    # The per-message budget ran out: the inference process was killed and restarted.
    INFERENCE_TIMEOUT = "inference_timeout"
    # The inference process died (a crash, a signal, an allocation over its memory limit) on this message alone.
    INFERENCE_CRASHED = "inference_crashed"
    RESULT_TOO_LARGE = "result_too_large"
    # The Kafka record's timestamp lies outside the years 1-9999 (a producer may set any CreateTime).
    INVALID_TIMESTAMP = "invalid_timestamp"
    # Any other exception while handling this one message (read, parse, validate, serialise): the catch-all.
    INTERNAL_ERROR = "internal_error"
    # Found by the quarantine after its micro-batch failed repeatedly (per-message isolation could not catch it).
    POISON = "poison"


AUTO = "auto"  # a message's lang when the service is to detect it
OTHER_LANG = "other"  # the metrics' label for a language without a model, or none detected with confidence
UNKNOWN_LANG = "unknown"  # the metrics' label for a message rejected before its language was known
OBSERVATION = "ner"  # the name of the Spark observation that carries the batch stats to the driver


# A Kafka record's headers in order, as (name, value); a header's value may be null.
Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class Message:
    uuid: str
    text: str
    lang: str
    fields: tuple[tuple[str, str], ...] = ()  # PASSTHROUGH_FIELDS found in the message, each as text


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Limits:
    """What a valid message may contain; picklable, shipped to the Python workers."""

    max_text_length: int
    supported_langs: frozenset[str]
    passthrough_fields: tuple[str, ...] = ()  # PASSTHROUGH_FIELDS: input fields copied into the result


# Kafka's default record limit (the producer's max.request.size and a topic's max.message.bytes): the size the
# job assumes when it has no broker to ask (batch mode); the stream reads the real limits at start.
DEFAULT_RECORD_BYTES = 1024 * 1024
# Room in a record for what is not key, value or headers: Kafka's record and batch framing (under 100 bytes).
RECORD_FRAMING_BYTES = 1024
# Room a result leaves for what grows after it is sized, and the least a dead letter's context needs: its reason,
# detail (at most 500 characters, at most 4 bytes each), times, version and source (a topic name is at most 249
# characters), as headers.
RECORD_OVERHEAD_BYTES = 8 * 1024
# What Kafka spends on each header beside its name and value (varint lengths), counted when sizing a record.
HEADER_FRAMING_BYTES = 10


def headers_bytes(headers: Headers) -> int:
    return sum(len(name.encode("utf-8")) + len(value or b"") + HEADER_FRAMING_BYTES for name, value in headers)


@dataclass(frozen=True)
class RecordBudget:
    """How large a record the sink may write (the smallest of the producer's and the output topics' limits)."""

    record_bytes: int

    @property
    def max_result_bytes(self) -> int:
        """Key, value and headers of a result together."""
        return self.record_bytes - RECORD_OVERHEAD_BYTES

    @property
    def max_dead_letter_bytes(self) -> int:
        """Key, value and headers (the original's and the context) of a dead letter together."""
        return self.record_bytes - RECORD_FRAMING_BYTES


# Kafka's record timestamps are any signed 64-bit milliseconds (a producer sets CreateTime); what the records carry
# is clamped to the years 1-9999 that ISO dates (and Python's datetime) can write.
MIN_TIMESTAMP_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def clamp_timestamp_ms(ms: int) -> int:
    return min(max(ms, MIN_TIMESTAMP_MS), MAX_TIMESTAMP_MS)


def timestamp_in_range(ms: int) -> bool:
    return MIN_TIMESTAMP_MS <= ms <= MAX_TIMESTAMP_MS


@dataclass(frozen=True)
class Source:
    """Where a message came from (its identity) and when Kafka received it (milliseconds since the epoch)."""

    topic: str
    partition: int
    offset: int
    received_ms: int | None


@dataclass(frozen=True)
class Row:
    """One Kafka-shaped input row. `poison` is the quarantine's failure text for an offset it isolated;
    `rejected` says why the row's own Kafka fields make it a dead letter (unreadable, out of range)."""

    key: bytes | None
    value: bytes | None
    source: Source
    poison: str | None = None
    rejected: Rejection | None = None
    headers: Headers = ()


@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # the model's own label
    type: str  # PERSON, ORGANIZATION, LOCATION or OTHER (app.inference.entity_types)
    start_char: int
    end_char: int


@dataclass(frozen=True)
class InferenceError:
    """Why one text has no entities; `reason` is its dead letter's reason."""

    detail: str
    reason: Reason = Reason.INFERENCE_ERROR


Outcome = list[Entity] | InferenceError


@dataclass(frozen=True)
class Annotated:
    """One output row (ANNOTATED_SCHEMA, without the per-batch stats): a result or a dead letter, as bytes."""

    ok: bool
    key: bytes | None
    value: bytes | None  # a dead letter's is the original value, which may be null
    reason: str | None
    lang: str  # the metrics' label: a configured language, OTHER_LANG or UNKNOWN_LANG
    entities: int = 0
    received_ms: int | None = None  # its Kafka timestamp, when usable
    latency_seconds: float | None = None  # its Kafka timestamp to the record built (None: no usable timestamp)
    inference_seconds: float | None = None  # its share of spaCy's time (by characters), if it was inferred
    headers: Headers = ()


# Bucket bounds (seconds) of the per-message histograms, shared by the worker that counts and the driver that
# exports: end-to-end latency (Kafka timestamp to the record built) and inference time per message.
SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


@dataclass
class Histogram:
    """Counts per bucket of SECONDS_BUCKETS (the last one: above them all) and the sum of the values."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(SECONDS_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(SECONDS_BUCKETS, seconds)] += 1
        self.total += seconds

    def add(self, other: Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total


@dataclass
class LangStats:
    """One language's share of an Arrow batch."""

    messages: int = 0
    results: int = 0
    entities: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)  # by reason
    inference_seconds: float | None = None  # spaCy's time for this language's texts
    model_load_seconds: float | None = None  # a model load this batch paid for
    latency: Histogram = field(default_factory=Histogram)  # Kafka timestamp -> record built, per message
    message_inference: Histogram = field(default_factory=Histogram)  # spaCy's time per message (its share)
    newest_received_ms: int | None = None  # the newest Kafka timestamp among the batch's records


@dataclass
class BatchStats:
    """What the metrics need of one Arrow batch, per language: written by the Python worker (app/udfs.py) as JSON
    in the batch's `stats` column, read on the driver (app/workers/metrics.py). One definition for both sides: a
    field that is renamed or unknown fails the reader instead of reading as zero."""

    langs: dict[str, LangStats] = field(default_factory=dict)

    def lang(self, lang: str) -> LangStats:
        return self.langs.setdefault(lang, LangStats())

    def to_json(self) -> str:
        return orjson.dumps({lang: asdict(s) for lang, s in self.langs.items()}).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchStats:
        langs = {lang: LangStats(**values) for lang, values in orjson.loads(text).items()}
        for stats in langs.values():  # the histograms arrive as plain mappings
            stats.latency = Histogram(**stats.latency)  # type: ignore[arg-type]
            stats.message_inference = Histogram(**stats.message_inference)  # type: ignore[arg-type]
        return cls(langs)
