"""The NER pandas UDF: validates raw Kafka values and runs spaCy, once-loaded per Python worker.

Everything done for one message (parse, validate, infer, size the result) sits behind a per-message boundary:
whatever escapes it becomes that message's dead letter, never the micro-batch's failure.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf
from spacy.language import Language

from app.isolation import Budget, Infer, InferenceProcess, Outcome, char_groups
from app.messages import Limits, Message, Reason, Rejection, parse_message
from app.ner import Entity, InferenceError, extract_entities, load_pipeline, model_identity
from app.schemas import INFERENCE_SCHEMA

MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class InferenceConfig:
    """Everything a Python worker needs; plain data, so Spark pickles it cheaply (never the nlp object)."""

    model: str
    keep_components: tuple[str, ...]
    nlp_batch_size: int
    limits: Limits
    nlp_batch_max_chars: int = 60_000
    # None: inference runs in the worker itself, without a budget (tests and the benches' inline variant).
    budget: Budget | None = None


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


def _parse(value: Any, limits: Limits) -> Message | Rejection:
    try:
        return parse_message(value, limits)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return Rejection(Reason.INTERNAL_ERROR, f"parsing raised {_describe(exc)}")


def result_bytes(uuid: str, entities: list[Entity]) -> int:
    """The Kafka record's size, near enough: the entities' JSON, the uuid (in the key and the value), the rest."""
    entities_json = json.dumps([e.__dict__ for e in entities], ensure_ascii=False, separators=(",", ":"))
    return 512 + 2 * len(uuid.encode()) + len(entities_json.encode(errors="replace"))


def _surely_fits(uuid: str, entities: list[Entity], max_bytes: int) -> bool:
    """A cheap upper bound first (an entity's JSON is under 80 bytes plus 6 per character), so the exact size
    is computed only for the rare result that might be too large: this runs for every row."""
    bound = 512 + 8 * len(uuid) + sum(80 + 6 * len(e.text) for e in entities)
    return bound <= max_bytes


def _row(parsed: Message | Rejection, outcome: Outcome | None, max_result_bytes: int) -> dict[str, Any]:
    if isinstance(parsed, Rejection):
        return _dead(None, None, parsed.reason, parsed.detail)
    if isinstance(outcome, InferenceError):
        return _dead(parsed.uuid, parsed.lang, outcome.reason, outcome.detail)
    entities = outcome or []
    if not _surely_fits(parsed.uuid, entities, max_result_bytes) and (
        (size := result_bytes(parsed.uuid, entities)) > max_result_bytes
    ):
        return _dead(parsed.uuid, parsed.lang, Reason.RESULT_TOO_LARGE,
                     f"{len(entities)} entities make ~{size} bytes of JSON, over {max_result_bytes}")
    return {"uuid": parsed.uuid, "lang": parsed.lang, "entities": [e.__dict__ for e in entities], "reason": None,
            "detail": None}


def _dead(uuid: str | None, lang: str | None, reason: Reason, detail: str) -> dict[str, Any]:
    return {"uuid": uuid, "lang": lang, "entities": None, "reason": str(reason), "detail": clean(detail)}


def _safe_row(parsed: Message | Rejection, outcome: Outcome | None, max_result_bytes: int) -> dict[str, Any]:
    try:
        return _row(parsed, outcome, max_result_bytes)
    except Exception as exc:  # noqa: BLE001 - the per-message boundary: this message's dead letter
        return _dead(None, None, Reason.INTERNAL_ERROR, f"building the result raised {_describe(exc)}")


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


def infer_batch(values: pd.Series, nlp: Language, config: InferenceConfig, infer: Infer | None = None
                ) -> pd.DataFrame:
    """Validate and annotate one batch of raw values; one output row per input row, in order.

    `infer` runs texts through `nlp` (inline by default; the UDF passes its worker's killable process).
    """
    if infer is None:
        def infer(texts: list[str]) -> list[Outcome]:
            return extract_entities(nlp, texts, config.nlp_batch_size)
    parsed = [_parse(v, config.limits) for v in values]
    messages = {i: p for i, p in enumerate(parsed) if isinstance(p, Message)}
    started = time.perf_counter()
    annotated = infer_texts([m.text for m in messages.values()], infer, config)
    elapsed = time.perf_counter() - started
    outcomes: dict[int, Outcome] = dict(zip(messages, annotated, strict=True))
    frame = pd.DataFrame([_safe_row(p, outcomes.get(i), config.limits.max_result_bytes)
                          for i, p in enumerate(parsed)],
                         columns=["uuid", "lang", "entities", "reason", "detail"])
    name, version = model_identity(nlp)
    frame["model_name"] = name
    frame["model_version"] = version
    frame["processed_at_ms"] = int(time.time() * 1000)
    frame["batch_inference_seconds"] = [elapsed] + [None] * (len(frame) - 1) if len(frame) else []
    frame["model_load_seconds"] = None
    return frame


def make_ner_udf(config: InferenceConfig):
    """An iterator pandas UDF over the Kafka `value` column returning INFERENCE_SCHEMA structs."""

    @pandas_udf(INFERENCE_SCHEMA)  # type: ignore[call-overload]
    def ner(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        runner, load_seconds = _runner(config)
        for values in batches:
            frame = infer_batch(values, runner.nlp, config, runner.infer)
            if load_seconds is not None and len(frame):
                frame.loc[0, "model_load_seconds"] = load_seconds
                load_seconds = None
            yield frame

    return ner


def apply_ner(value: Column, config: InferenceConfig) -> Column:
    return make_ner_udf(config)(value)
