"""The NER pandas UDF: validates raw Kafka values and runs spaCy, once-loaded per Python worker."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf
from spacy.language import Language

from app.messages import Limits, Message, Reason, Rejection, parse_message
from app.ner import Entity, InferenceError, extract_entities, load_pipeline, model_identity
from app.schemas import INFERENCE_SCHEMA


@dataclass(frozen=True)
class InferenceConfig:
    """Everything a Python worker needs; plain data, so Spark pickles it cheaply (never the nlp object)."""

    model: str
    keep_components: tuple[str, ...]
    nlp_batch_size: int
    limits: Limits


# One pipeline per Python worker process and model, reused across tasks (spark.python.worker.reuse).
_PIPELINES: dict[tuple[str, tuple[str, ...]], Language] = {}


def _pipeline(config: InferenceConfig) -> tuple[Language, float | None]:
    """The worker's pipeline, and how long loading took when this call loaded it."""
    key = (config.model, config.keep_components)
    if key in _PIPELINES:
        return _PIPELINES[key], None
    started = time.perf_counter()
    _PIPELINES[key] = load_pipeline(config.model, config.keep_components)
    return _PIPELINES[key], time.perf_counter() - started


def result_bytes(uuid: str, entities: list[Entity]) -> int:
    """The Kafka record's size, near enough: the entities' JSON, the uuid (in the key and the value), the rest."""
    entities_json = json.dumps([e.__dict__ for e in entities], ensure_ascii=False, separators=(",", ":"))
    return 512 + 2 * len(uuid.encode()) + len(entities_json.encode(errors="replace"))


def _surely_fits(uuid: str, entities: list[Entity], max_bytes: int) -> bool:
    """A cheap upper bound first (an entity's JSON is under 80 bytes plus 6 per character), so the exact size
    is computed only for the rare result that might be too large: this runs for every row."""
    bound = 512 + 8 * len(uuid) + sum(80 + 6 * len(e.text) for e in entities)
    return bound <= max_bytes


def _row(parsed: Message | Rejection, outcome: list[Entity] | InferenceError | None,
         max_result_bytes: int) -> dict[str, Any]:
    if isinstance(parsed, Rejection):
        return {"uuid": None, "lang": None, "entities": None, "reason": str(parsed.reason), "detail": parsed.detail}
    if isinstance(outcome, InferenceError):
        return {"uuid": parsed.uuid, "lang": parsed.lang, "entities": None,
                "reason": str(Reason.INFERENCE_ERROR), "detail": outcome.detail}
    if not _surely_fits(parsed.uuid, outcome or [], max_result_bytes) and (
        (size := result_bytes(parsed.uuid, outcome or [])) > max_result_bytes
    ):
        return {"uuid": parsed.uuid, "lang": parsed.lang, "entities": None, "reason": str(Reason.RESULT_TOO_LARGE),
                "detail": f"{len(outcome or [])} entities make ~{size} bytes of JSON, over {max_result_bytes}"}
    entities = [e.__dict__ for e in outcome or []]
    return {"uuid": parsed.uuid, "lang": parsed.lang, "entities": entities, "reason": None, "detail": None}


def infer_batch(values: pd.Series, nlp: Language, config: InferenceConfig) -> pd.DataFrame:
    """Validate and annotate one batch of raw values; one output row per input row, in order."""
    parsed = [parse_message(v, config.limits) for v in values]
    messages = {i: p for i, p in enumerate(parsed) if isinstance(p, Message)}
    started = time.perf_counter()
    annotated = extract_entities(nlp, [m.text for m in messages.values()], config.nlp_batch_size)
    elapsed = time.perf_counter() - started
    outcomes: dict[int, list[Entity] | InferenceError] = dict(zip(messages, annotated, strict=True))
    frame = pd.DataFrame([_row(p, outcomes.get(i), config.limits.max_result_bytes) for i, p in enumerate(parsed)],
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
        nlp, load_seconds = _pipeline(config)
        for values in batches:
            frame = infer_batch(values, nlp, config)
            if load_seconds is not None and len(frame):
                frame.loc[0, "model_load_seconds"] = load_seconds
                load_seconds = None
            yield frame

    return ner


def apply_ner(value: Column, config: InferenceConfig) -> Column:
    return make_ner_udf(config)(value)
