"""The per-message boundary: one finished record per input row, a result or a dead letter, whatever the row holds.

Everything done for one message (read, parse, validate, detect its language, infer, serialise, size) happens behind
it: what escapes becomes that message's dead letter, never the micro-batch's failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from app.contract import (
    AUTO,
    OTHER_LANG,
    UNKNOWN_LANG,
    Annotated,
    BatchStats,
    InferenceError,
    Message,
    Outcome,
    Reason,
    Rejection,
    Row,
    headers_bytes,
)
from app.inference.batching import clean, describe, infer_texts
from app.inference.cache import ModelSource
from app.inference.config import InferenceConfig
from app.inference.language import Detect, detect_language
from app.inference.models import model_identity
from app.messages import parse_message
from app.records import dead_letter, passthrough_headers, result_key, result_value


@dataclass(frozen=True)
class Ready:
    """A valid message whose language has a model: as given, or as detected (with its confidence)."""

    message: Message
    lang: str
    detection: tuple[str, float] | None


def _parse(row: Row, config: InferenceConfig) -> Message | Rejection:
    if row.rejected is not None:  # its Kafka fields could not be read, or are out of range
        return row.rejected
    if row.poison is not None:  # never parsed, never inferred: it failed its micro-batch before
        return Rejection(Reason.POISON, row.poison)
    try:
        return parse_message(row.value, config.limits)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return Rejection(Reason.INTERNAL_ERROR, f"parsing raised {describe(exc)}")


def _resolve(parsed: Message | Rejection, config: InferenceConfig, detect: Detect) -> Ready | Rejection:
    if isinstance(parsed, Rejection):
        return parsed
    if parsed.lang != AUTO:
        return Ready(parsed, parsed.lang, None)
    lang, confidence = detect(parsed.text)
    if confidence < config.lang_min_confidence:
        return Rejection(
            Reason.LANG_UNCERTAIN,
            f"detected {lang!r} with confidence {confidence:.2f}, under "
            f"LANG_MIN_CONFIDENCE {config.lang_min_confidence:g}",
        )
    if lang not in config.langs:
        langs = ",".join(sorted(config.langs))
        return Rejection(
            Reason.UNSUPPORTED_LANG, f"detected {lang!r} (confidence {confidence:.2f}); models for {langs}"
        )
    return Ready(parsed, lang, (lang, confidence))


def _safe_resolve(row: Row, config: InferenceConfig, detect: Detect) -> Ready | Rejection:
    parsed = _parse(row, config)
    try:
        return _resolve(parsed, config, detect)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return Rejection(Reason.INTERNAL_ERROR, f"language detection raised {describe(exc)}")


def _label(resolved: Ready | Rejection) -> str:
    """The metrics' lang label: bounded to the configured languages, whatever the input says."""
    if isinstance(resolved, Ready):
        return resolved.lang
    return OTHER_LANG if resolved.reason in (Reason.UNSUPPORTED_LANG, Reason.LANG_UNCERTAIN) else UNKNOWN_LANG


def _dead(row: Row, reason: Reason, detail: str, lang: str, now_ms: int, config: InferenceConfig) -> Annotated:
    key, value, headers = dead_letter(
        str(reason), clean(detail), row.key, row.value, row.headers, row.source, now_ms, config.records
    )
    return Annotated(False, key, value, str(reason), lang, headers=headers)


def _record(
    row: Row,
    resolved: Ready | Rejection,
    outcome: Outcome | None,
    model: tuple[str, str] | None,
    now_ms: int,
    config: InferenceConfig,
) -> Annotated:
    lang = _label(resolved)
    if isinstance(resolved, Rejection):
        return _dead(row, resolved.reason, resolved.detail, lang, now_ms, config)
    if isinstance(outcome, InferenceError) or outcome is None or model is None:
        error = outcome if isinstance(outcome, InferenceError) else InferenceError("no outcome")
        return _dead(row, error.reason, error.detail, lang, now_ms, config)
    message = resolved.message
    key = result_key(config.result_key, message.uuid, row.key, row.source)
    value = result_value(message.uuid, lang, resolved.detection, outcome, model, row.source, now_ms, message.fields)
    headers = passthrough_headers(row.headers, config.passthrough_headers)
    size = len(key or b"") + len(value) + headers_bytes(headers)
    if size > config.records.max_result_bytes:
        return _dead(
            row,
            Reason.RESULT_TOO_LARGE,
            f"{len(outcome)} entities make {size} bytes of key, JSON and headers, "
            f"over {config.records.max_result_bytes}",
            lang,
            now_ms,
            config,
        )
    return Annotated(True, key, value, None, lang, len(outcome), headers=headers)


def _identity(resolved: Ready | Rejection, identities: Mapping[str, tuple[str, str]]) -> tuple[str, str] | None:
    return identities.get(resolved.lang) if isinstance(resolved, Ready) else None


def _safe_record(row: Row, now_ms: int, config: InferenceConfig, build: Callable[[], Annotated]) -> Annotated:
    try:
        return build()
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        detail = f"building the record raised {describe(exc)}"
        return _dead(row, Reason.INTERNAL_ERROR, detail, UNKNOWN_LANG, now_ms, config)


def annotate_rows(
    rows: Sequence[Row], models: ModelSource, config: InferenceConfig, detect: Detect = detect_language
) -> tuple[list[Annotated], dict[str, float]]:
    """One finished record per input row, in order, and the seconds spent in each language's model.

    Messages are grouped by language for the model calls; each group keeps the rows' order.
    """
    resolved = [_safe_resolve(row, config, detect) for row in rows]
    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(resolved):
        if isinstance(r, Ready):
            by_lang.setdefault(r.lang, []).append(i)
    outcomes: dict[int, Outcome] = {}
    identities: dict[str, tuple[str, str]] = {}
    seconds: dict[str, float] = {}
    shares: dict[int, float] = {}  # each inferred message's share of its language's time, by characters
    for lang, indexes in by_lang.items():
        started = time.perf_counter()
        # A model that cannot load is the environment's fault, not the messages': it fails the batch loudly
        # (start-up proves every model, so this is a worker's own environment) rather than dead-lettering all.
        nlp, infer = models.get(lang)
        identities[lang] = model_identity(nlp)
        texts = [resolved[i].message.text for i in indexes]  # type: ignore[union-attr]
        found = infer_texts(texts, infer, config.nlp_batch_max_chars, config.nlp_batch_size)
        outcomes.update(zip(indexes, found, strict=True))
        seconds[lang] = time.perf_counter() - started
        chars = sum(len(t) for t in texts) or 1
        shares.update((i, seconds[lang] * len(t) / chars) for i, t in zip(indexes, texts, strict=True))
    now_ms = int(time.time() * 1000)
    return [
        _timed(
            _safe_record(
                row, now_ms, config, partial(_record, row, r, outcomes.get(i), _identity(r, identities), now_ms, config)
            ),
            row,
            now_ms,
            shares.get(i),
        )
        for i, (row, r) in enumerate(zip(rows, resolved, strict=True))
    ], seconds


def _timed(record: Annotated, row: Row, now_ms: int, inference_seconds: float | None) -> Annotated:
    received = row.source.received_ms if row.rejected is None else None  # an out-of-range timestamp says nothing
    latency = None if received is None else max(0, now_ms - received) / 1000
    return replace(record, received_ms=received, latency_seconds=latency, inference_seconds=inference_seconds)


def batch_stats(records: Sequence[Annotated], seconds: Mapping[str, float], loads: Mapping[str, float]) -> BatchStats:
    """What the metrics need of one Arrow batch, per language."""
    stats = BatchStats()
    for r in records:
        counts = stats.lang(r.lang)
        counts.messages += 1
        if r.ok:
            counts.results += 1
            counts.entities += r.entities
        elif r.reason is not None:
            counts.dead_letters[r.reason] = counts.dead_letters.get(r.reason, 0) + 1
        if r.latency_seconds is not None:
            counts.latency.observe(r.latency_seconds)
        if r.received_ms is not None:
            counts.newest_received_ms = max(counts.newest_received_ms or r.received_ms, r.received_ms)
        if r.inference_seconds is not None:
            counts.message_inference.observe(r.inference_seconds)
    for lang, value in seconds.items():
        stats.lang(lang).inference_seconds = value
    for lang, value in loads.items():
        stats.lang(lang).model_load_seconds = value
    return stats
