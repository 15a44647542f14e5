"""What a Python worker needs to annotate messages: plain data, so Spark pickles it cheaply (never the nlp
object). Built on the driver from the settings (app/spark/transform.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from app.contract import DEFAULT_RECORD_BYTES, Limits, RecordBudget
from app.inference.isolation import Budget


@dataclass(frozen=True)
class InferenceConfig:
    models: tuple[tuple[str, str], ...]  # (lang, spaCy package or path), SPACY_MODELS
    keep_components: tuple[str, ...]
    nlp_batch_size: int
    limits: Limits
    records: RecordBudget = RecordBudget(DEFAULT_RECORD_BYTES)
    lang_min_confidence: float = 0.8
    nlp_batch_max_chars: int = 60_000
    vocab_warmup_chars: int = 0  # VOCAB_WARMUP_CHARS: text whose words each inference process keeps
    # TOKENIZER_RUN_LIMIT: the longest run without whitespace the tokenizer sees in one piece (app/inference/guard.py)
    tokenizer_run_limit: int = 200
    result_key: str = "source"  # RESULT_KEY: source, uuid or input-key (app/records.py result_key)
    passthrough_headers: tuple[str, ...] = ("*",)  # PASSTHROUGH_HEADERS: ("*",) all, or these names
    # None: inference runs in the worker itself, without a budget (tests and the benches' inline variant).
    budget: Budget | None = None

    @cached_property
    def langs(self) -> frozenset[str]:
        """The languages that have a model."""
        return frozenset(lang for lang, _ in self.models)
