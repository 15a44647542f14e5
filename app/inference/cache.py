"""One worker's models by language, each loaded on first use, once, with only what NER needs, and run in a
killable inference process of its own (or inline, without a budget, when the config says so)."""

from __future__ import annotations

import gc
import time
from typing import Protocol

from spacy.language import Language

from app.contract import Outcome
from app.inference.config import InferenceConfig
from app.inference.isolation import Infer, InferenceProcess, Progress
from app.inference.models import load_pipeline
from app.inference.ner import VocabWarmup, extract_entities


class ModelSource(Protocol):
    def get(self, lang: str) -> tuple[Language, Infer]: ...


class Models:
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

            def inline(texts: list[str], progress: Progress | None = None) -> list[Outcome]:
                return extract_entities(
                    nlp,
                    texts,
                    batch_size,
                    keep_vocab=warmup.take(texts),
                    progress=progress,
                    run_limit=self._config.tokenizer_run_limit,
                )

            # The model's objects live as long as the worker: out of the collector's reach, pyspark's gc.collect()
            # after every task no longer walks them, and a forked inference process does not copy their pages
            # when its collector would touch them.
            gc.collect()
            gc.freeze()
            budget = self._config.budget
            self._loaded[lang] = (nlp, inline if budget is None else InferenceProcess(inline, budget).run)
            self.load_seconds[lang] = time.perf_counter() - started
        return self._loaded[lang]

    def take_load_seconds(self) -> dict[str, float]:
        """The loads since the last call, for the batch stats (each reported once)."""
        loads, self.load_seconds = self.load_seconds, {}
        return loads


# One Models per Python worker process and config, reused across tasks (spark.python.worker.reuse).
_MODELS: dict[InferenceConfig, Models] = {}


def worker_models(config: InferenceConfig) -> Models:
    return _MODELS.setdefault(config, Models(config))
