"""The NER step as an Arrow-native function (`mapInArrow`): raw Kafka rows in, finished Kafka records out.

Everything done for one message (parse, validate, infer, serialise, size) sits behind a per-message boundary:
whatever escapes it becomes that message's dead letter, never the micro-batch's failure. The model is loaded once
per Python worker; no pandas, no struct conversion: the JVM gets bytes it only routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema
from spacy.language import Language

from app.isolation import Budget, Infer, InferenceProcess, Outcome, char_groups
from app.messages import Limits, Message, Reason, Rejection, parse_message
from app.ner import InferenceError, extract_entities, load_pipeline, model_identity
from app.records import RecordBudget, Source, dead_letter, result_value
from app.schemas import ANNOTATED_SCHEMA

MAX_DETAIL_CHARS = 500
ARROW_SCHEMA = to_arrow_schema(ANNOTATED_SCHEMA)


@dataclass(frozen=True)
class InferenceConfig:
    """Everything a Python worker needs; plain data, so Spark pickles it cheaply (never the nlp object)."""

    model: str
    keep_components: tuple[str, ...]
    nlp_batch_size: int
    limits: Limits
    records: RecordBudget = RecordBudget(1024 * 1024)
    nlp_batch_max_chars: int = 60_000
    # None: inference runs in the worker itself, without a budget (tests and the benches' inline variant).
    budget: Budget | None = None


@dataclass(frozen=True)
class Row:
    """One Kafka-shaped input row; `poison` is the quarantine's failure text for an offset it isolated."""

    key: bytes | None
    value: bytes | None
    source: Source
    poison: str | None = None


@dataclass(frozen=True)
class Annotated:
    """One output row (ANNOTATED_SCHEMA, without the per-batch timings)."""

    ok: bool
    key: bytes | None
    value: bytes
    reason: str | None
    entities: int


@dataclass(frozen=True)
class Runner:
    """One worker's loaded model and how it runs texts through it."""

    nlp: Language
    infer: Infer


# One runner per Python worker process and model, reused across tasks (spark.python.worker.reuse).
_RUNNERS: dict[InferenceConfig, Runner] = {}


def _runner(config: InferenceConfig) -> tuple[Runner, float | None]:
    """The worker's runner, and how long loading the model took when this call loaded it."""
    if config in _RUNNERS:
        return _RUNNERS[config], None
    started = time.perf_counter()
    nlp = load_pipeline(config.model, config.keep_components)

    def inline(texts: list[str]) -> list[Outcome]:
        return extract_entities(nlp, texts, config.nlp_batch_size)

    infer: Infer = inline if config.budget is None else InferenceProcess(inline, config.budget).run
    _RUNNERS[config] = Runner(nlp, infer)
    return _RUNNERS[config], time.perf_counter() - started


def clean(detail: str) -> str:
    """A dead letter's detail as valid UTF-8 of bounded length: it may quote the hostile input."""
    return detail[:MAX_DETAIL_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(exc: BaseException) -> str:
    return clean(f"{type(exc).__name__}: {exc}")


def _parse(row: Row, limits: Limits) -> Message | Rejection:
    if row.poison is not None:  # never parsed, never inferred: it failed its micro-batch before
        return Rejection(Reason.POISON, row.poison)
    try:
        return parse_message(row.value, limits)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return Rejection(Reason.INTERNAL_ERROR, f"parsing raised {_describe(exc)}")


def infer_texts(texts: list[str], infer: Infer, config: InferenceConfig) -> list[Outcome]:
    """Outcomes for every text, in order, in calls bounded by characters as well as by count."""
    outcomes: list[Outcome] = [InferenceError("not run")] * len(texts)
    for group in char_groups(texts, config.nlp_batch_max_chars, config.nlp_batch_size):
        try:
            found = infer([texts[i] for i in group])
        except Exception as exc:  # noqa: BLE001 - extract_entities isolates texts; this is the last net
            found = [InferenceError(_describe(exc))] * len(group)
        for i, outcome in zip(group, found, strict=True):
            outcomes[i] = outcome
    return outcomes


def _dead(row: Row, reason: Reason, detail: str, now_ms: int, config: InferenceConfig) -> Annotated:
    key, value = dead_letter(str(reason), clean(detail), row.key, row.value, row.source, now_ms, config.records)
    return Annotated(False, key, value, str(reason), 0)


def _record(row: Row, parsed: Message | Rejection, outcome: Outcome | None, model: tuple[str, str], now_ms: int,
            config: InferenceConfig) -> Annotated:
    if isinstance(parsed, Rejection):
        return _dead(row, parsed.reason, parsed.detail, now_ms, config)
    if isinstance(outcome, InferenceError) or outcome is None:
        error = outcome or InferenceError("no outcome")
        return _dead(row, error.reason, error.detail, now_ms, config)
    key = parsed.uuid.encode("utf-8")
    value = result_value(parsed.uuid, parsed.lang, outcome, model, row.source, now_ms)
    if len(key) + len(value) > config.records.max_result_bytes:
        return _dead(row, Reason.RESULT_TOO_LARGE, f"{len(outcome)} entities make {len(key) + len(value)} bytes "
                     f"of key and JSON, over {config.records.max_result_bytes}", now_ms, config)
    return Annotated(True, key, value, None, len(outcome))


def _safe_record(row: Row, parsed: Message | Rejection, outcome: Outcome | None, model: tuple[str, str],
                 now_ms: int, config: InferenceConfig) -> Annotated:
    try:
        return _record(row, parsed, outcome, model, now_ms, config)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return _dead(row, Reason.INTERNAL_ERROR, f"building the record raised {_describe(exc)}", now_ms, config)


def annotate_rows(rows: Sequence[Row], nlp: Language, config: InferenceConfig, infer: Infer | None = None
                  ) -> tuple[list[Annotated], float]:
    """One finished record per input row, in order, and the seconds spent in the model.

    `infer` runs texts through `nlp` (inline by default; the worker passes its killable process).
    """
    if infer is None:
        def infer(texts: list[str]) -> list[Outcome]:
            return extract_entities(nlp, texts, config.nlp_batch_size)
    parsed = [_parse(row, config.limits) for row in rows]
    messages = {i: p for i, p in enumerate(parsed) if isinstance(p, Message)}
    started = time.perf_counter()
    annotated = infer_texts([m.text for m in messages.values()], infer, config)
    elapsed = time.perf_counter() - started
    outcomes: dict[int, Outcome] = dict(zip(messages, annotated, strict=True))
    model = model_identity(nlp)
    now_ms = int(time.time() * 1000)
    return [_safe_record(row, p, outcomes.get(i), model, now_ms, config) for i, (row, p) in
            enumerate(zip(rows, parsed, strict=True))], elapsed


def rows_of(batch: pa.RecordBatch) -> list[Row]:
    """The rows of one Arrow batch of (key, value, topic, partition, offset, timestamp, poison)."""
    columns = batch.to_pydict()
    # Microseconds since the epoch whatever the session's time zone: no datetime objects per row.
    micros = batch.column("timestamp").cast(pa.int64()).to_pylist()
    received = [None if t is None else t // 1000 for t in micros]
    return [Row(k, v, Source(t, p, o, r), q) for k, v, t, p, o, r, q in zip(
        columns["key"], columns["value"], columns["topic"], columns["partition"], columns["offset"], received,
        columns["poison"], strict=True)]


def to_batch(records: list[Annotated], inference_seconds: float, load_seconds: float | None) -> pa.RecordBatch:
    firsts = [None] * len(records)
    return pa.RecordBatch.from_arrays([
        pa.array([r.ok for r in records], pa.bool_()),
        pa.array([r.key for r in records], pa.binary()),
        pa.array([r.value for r in records], pa.binary()),
        pa.array([r.reason for r in records], pa.string()),
        pa.array([r.entities for r in records], pa.int32()),
        pa.array([inference_seconds, *firsts[1:]] if records else [], pa.float64()),
        pa.array([load_seconds, *firsts[1:]] if records else [], pa.float64()),
    ], schema=ARROW_SCHEMA)


def make_annotator(config: InferenceConfig) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function for `DataFrame.mapInArrow(..., ANNOTATED_SCHEMA)`; it closes over plain data only."""

    def annotator(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        runner, load_seconds = _runner(config)
        for batch in batches:
            records, seconds = annotate_rows(rows_of(batch), runner.nlp, config, runner.infer)
            yield to_batch(records, seconds, load_seconds)
            if records:
                load_seconds = None

    return annotator
