"""The NER step as an Arrow-native function (`mapInArrow`): raw Kafka rows in, finished Kafka records out.

Everything done for one message (parse, validate, infer, serialise, size) sits behind a per-message boundary:
whatever escapes it becomes that message's dead letter, never the micro-batch's failure. The model is loaded once
per Python worker; no pandas, no struct conversion: the JVM gets bytes it only routes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema
from spacy.language import Language

from app.isolation import Budget, Infer, InferenceProcess, Outcome, char_groups
from app.language import Detect, detect_language
from app.messages import AUTO, Limits, Message, Reason, Rejection, parse_message
from app.models import load_pipeline, model_identity
from app.ner import InferenceError, VocabWarmup, extract_entities
from app.records import DEFAULT_RECORD_BYTES, RecordBudget, Source, dead_letter, result_value
from app.schemas import ANNOTATED_SCHEMA

MAX_DETAIL_CHARS = 500
OTHER_LANG = "other"  # a language without a model, or none detected with confidence
UNKNOWN_LANG = "unknown"  # a message rejected before its language was known
ARROW_SCHEMA = to_arrow_schema(ANNOTATED_SCHEMA)


@dataclass(frozen=True)
class InferenceConfig:
    """Everything a Python worker needs; plain data, so Spark pickles it cheaply (never the nlp object)."""

    models: tuple[tuple[str, str], ...]  # (lang, spaCy package or path), SPACY_MODELS
    keep_components: tuple[str, ...]
    nlp_batch_size: int
    limits: Limits
    records: RecordBudget = RecordBudget(DEFAULT_RECORD_BYTES)
    lang_min_confidence: float = 0.8
    nlp_batch_max_chars: int = 60_000
    vocab_warmup_chars: int = 0  # VOCAB_WARMUP_CHARS: text whose words each inference process keeps
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
    lang: str  # the metrics' label: a configured language, OTHER_LANG or UNKNOWN_LANG
    entities: int = 0


class ModelSource(Protocol):
    def get(self, lang: str) -> tuple[Language, Infer]: ...


class Models:
    """One worker's models by language, each loaded on first use, once, with only what NER needs, and run in a
    killable inference process of its own (or inline, without a budget, when the config says so)."""

    def __init__(self, config: InferenceConfig) -> None:
        self._config = config
        self._loaded: dict[str, tuple[Language, Infer]] = {}
        self.load_seconds: dict[str, float] = {}  # loads not yet reported in the metrics

    def get(self, lang: str) -> tuple[Language, Infer]:
        if lang not in self._loaded:
            started = time.perf_counter()
            nlp = load_pipeline(dict(self._config.models)[lang], self._config.keep_components)
            batch_size = self._config.nlp_batch_size
            # Per process: a forked inference process counts (and keeps) its own, from its first call.
            warmup = VocabWarmup(self._config.vocab_warmup_chars)

            def inline(texts: list[str]) -> list[Outcome]:
                return extract_entities(nlp, texts, batch_size, keep_vocab=warmup.take(texts))

            # The model's objects live as long as the worker: out of the collector's reach, pyspark's gc.collect()
            # after every task no longer walks them (~25-100 ms a task), and a forked inference process does not
            # copy their pages when its collector would touch them.
            gc.collect()
            gc.freeze()
            budget = self._config.budget
            self._loaded[lang] = (nlp, inline if budget is None else InferenceProcess(inline, budget).run)
            self.load_seconds[lang] = time.perf_counter() - started
        return self._loaded[lang]


# One Models per Python worker process and config, reused across tasks (spark.python.worker.reuse).
_MODELS: dict[InferenceConfig, Models] = {}


def worker_models(config: InferenceConfig) -> Models:
    return _MODELS.setdefault(config, Models(config))


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


@dataclass(frozen=True)
class Ready:
    """A valid message whose language has a model: as given, or as detected (with its confidence)."""

    message: Message
    lang: str
    detection: tuple[str, float] | None


def _resolve(parsed: Message | Rejection, config: InferenceConfig, detect: Detect) -> Ready | Rejection:
    if isinstance(parsed, Rejection):
        return parsed
    if parsed.lang != AUTO:
        return Ready(parsed, parsed.lang, None)
    lang, confidence = detect(parsed.text)
    if confidence < config.lang_min_confidence:
        return Rejection(Reason.LANG_UNCERTAIN, f"detected {lang!r} with confidence {confidence:.2f}, under "
                         f"LANG_MIN_CONFIDENCE {config.lang_min_confidence:g}")
    if lang not in dict(config.models):
        langs = ",".join(sorted(dict(config.models)))
        return Rejection(Reason.UNSUPPORTED_LANG,
                         f"detected {lang!r} (confidence {confidence:.2f}); models for {langs}")
    return Ready(parsed, lang, (lang, confidence))


def _label(resolved: Ready | Rejection) -> str:
    """The metrics' lang label: bounded to the configured languages, whatever the input says."""
    if isinstance(resolved, Ready):
        return resolved.lang
    return OTHER_LANG if resolved.reason in (Reason.UNSUPPORTED_LANG, Reason.LANG_UNCERTAIN) else UNKNOWN_LANG


def _dead(row: Row, reason: Reason, detail: str, lang: str, now_ms: int, config: InferenceConfig) -> Annotated:
    key, value = dead_letter(str(reason), clean(detail), row.key, row.value, row.source, now_ms, config.records)
    return Annotated(False, key, value, str(reason), lang)


def _record(row: Row, resolved: Ready | Rejection, outcome: Outcome | None, model: tuple[str, str] | None,
            now_ms: int, config: InferenceConfig) -> Annotated:
    lang = _label(resolved)
    if isinstance(resolved, Rejection):
        return _dead(row, resolved.reason, resolved.detail, lang, now_ms, config)
    if isinstance(outcome, InferenceError) or outcome is None or model is None:
        error = outcome if isinstance(outcome, InferenceError) else InferenceError("no outcome")
        return _dead(row, error.reason, error.detail, lang, now_ms, config)
    uuid = resolved.message.uuid
    key = uuid.encode("utf-8")
    value = result_value(uuid, lang, resolved.detection, outcome, model, row.source, now_ms)
    if len(key) + len(value) > config.records.max_result_bytes:
        return _dead(row, Reason.RESULT_TOO_LARGE, f"{len(outcome)} entities make {len(key) + len(value)} bytes "
                     f"of key and JSON, over {config.records.max_result_bytes}", lang, now_ms, config)
    return Annotated(True, key, value, None, lang, len(outcome))


def _safe_record(row: Row, resolved: Ready | Rejection, outcome: Outcome | None, model: tuple[str, str] | None,
                 now_ms: int, config: InferenceConfig) -> Annotated:
    try:
        return _record(row, resolved, outcome, model, now_ms, config)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return _dead(row, Reason.INTERNAL_ERROR, f"building the record raised {_describe(exc)}", UNKNOWN_LANG,
                     now_ms, config)


def _safe_resolve(parsed: Message | Rejection, config: InferenceConfig, detect: Detect) -> Ready | Rejection:
    try:
        return _resolve(parsed, config, detect)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return Rejection(Reason.INTERNAL_ERROR, f"language detection raised {_describe(exc)}")


def annotate_rows(rows: Sequence[Row], models: ModelSource, config: InferenceConfig,
                  detect: Detect = detect_language) -> tuple[list[Annotated], dict[str, float]]:
    """One finished record per input row, in order, and the seconds spent in each language's model.

    Messages are grouped by language for the model calls; each group keeps the rows' order.
    """
    resolved = [_safe_resolve(_parse(row, config.limits), config, detect) for row in rows]
    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(resolved):
        if isinstance(r, Ready):
            by_lang.setdefault(r.lang, []).append(i)
    outcomes: dict[int, Outcome] = {}
    identities: dict[str, tuple[str, str]] = {}
    seconds: dict[str, float] = {}
    for lang, indexes in by_lang.items():
        started = time.perf_counter()
        # A model that cannot load is the environment's fault, not the messages': it fails the batch loudly
        # (the supervisor's canary tells it from poison) rather than dead-lettering everything.
        nlp, infer = models.get(lang)
        identities[lang] = model_identity(nlp)
        texts = [resolved[i].message.text for i in indexes]  # type: ignore[union-attr]
        outcomes.update(zip(indexes, infer_texts(texts, infer, config), strict=True))
        seconds[lang] = time.perf_counter() - started
    now_ms = int(time.time() * 1000)
    records = [_safe_record(row, r, outcomes.get(i), identities.get(r.lang) if isinstance(r, Ready) else None,
                            now_ms, config) for i, (row, r) in enumerate(zip(rows, resolved, strict=True))]
    return records, seconds


def batch_stats(records: Sequence[Annotated], seconds: Mapping[str, float], loads: Mapping[str, float]) -> str:
    """What the metrics need of one Arrow batch, per language, as JSON (app/workers/metrics.py reads it)."""
    stats: dict[str, dict[str, Any]] = {}
    for r in records:
        counts = stats.setdefault(r.lang, {"messages": 0, "results": 0, "entities": 0, "dead_letters": {}})
        counts["messages"] += 1
        if r.ok:
            counts["results"] += 1
            counts["entities"] += r.entities
        else:
            counts["dead_letters"][r.reason] = counts["dead_letters"].get(r.reason, 0) + 1
    for name, values in (("inference_seconds", seconds), ("model_load_seconds", loads)):
        for lang, value in values.items():
            stats.setdefault(lang, {"messages": 0, "results": 0, "entities": 0, "dead_letters": {}})[name] = value
    return orjson.dumps(stats).decode()


def rows_of(batch: pa.RecordBatch) -> list[Row]:
    """The rows of one Arrow batch of (key, value, topic, partition, offset, timestamp, poison)."""
    columns = batch.to_pydict()
    # Microseconds since the epoch whatever the session's time zone: no datetime objects per row.
    micros = batch.column("timestamp").cast(pa.int64()).to_pylist()
    received = [None if t is None else t // 1000 for t in micros]
    return [Row(k, v, Source(t, p, o, r), q) for k, v, t, p, o, r, q in zip(
        columns["key"], columns["value"], columns["topic"], columns["partition"], columns["offset"], received,
        columns["poison"], strict=True)]


def to_batch(records: list[Annotated], stats: str) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([
        pa.array([r.ok for r in records], pa.bool_()),
        pa.array([r.key for r in records], pa.binary()),
        pa.array([r.value for r in records], pa.binary()),
        pa.array([r.reason for r in records], pa.string()),
        pa.array([stats] + [None] * (len(records) - 1) if records else [], pa.string()),
    ], schema=ARROW_SCHEMA)


def make_annotator(config: InferenceConfig) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function for `DataFrame.mapInArrow(..., ANNOTATED_SCHEMA)`; it closes over plain data only."""

    def annotator(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        models = worker_models(config)
        for batch in batches:
            records, seconds = annotate_rows(rows_of(batch), models, config)
            loads, models.load_seconds = models.load_seconds, {}
            yield to_batch(records, batch_stats(records, seconds, loads))

    return annotator
