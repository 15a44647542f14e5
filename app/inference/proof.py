"""Every configured model proven before the query starts: loaded with only what NER needs and run on a canary,
in a child process, so that the driver does not keep the models' memory. A model that imports but cannot load or
annotate stops the start (exit 2, naming SPACY_MODELS) instead of failing every batch of its language."""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence

from app.contract import InferenceError
from app.inference.batching import describe
from app.inference.models import load_pipeline
from app.inference.ner import extract_entities

CANARY = "Ada Lovelace lived in London and worked with Charles Babbage."


def prove(model: str, keep: Sequence[str] = ()) -> str | None:
    """None if the model loads and annotates the canary, else why not."""
    try:
        nlp = load_pipeline(model, keep)
        (outcome,) = extract_entities(nlp, [CANARY])
    except Exception as exc:  # noqa: BLE001 - reported as the setting's error
        return describe(exc)
    return outcome.detail if isinstance(outcome, InferenceError) else None


def unproven(models: Mapping[str, str], keep: Sequence[str] = ()) -> list[str]:
    """The configured models that cannot annotate, as "lang=model: why" (each proven in a fresh child)."""
    if not models:
        return []
    with multiprocessing.get_context("fork").Pool(1, maxtasksperchild=1) as pool:
        found = pool.starmap(prove, [(model, tuple(keep)) for model in models.values()])
    return [f"{lang}={model}: {why}" for (lang, model), why in zip(models.items(), found, strict=True) if why]
