"""Named-entity recognition as plain functions over texts and a loaded spaCy pipeline (no Spark here)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language

from app.messages import Reason

log = logging.getLogger(__name__)

# Components NER does not need in the en_core_web_* pipelines. tok2vec is dropped separately, only when
# no remaining component listens to it (en_core_web_sm's ner has its own embedding layer).
NOT_NEEDED_FOR_NER = ("tagger", "parser", "lemmatizer", "attribute_ruler", "senter", "morphologizer")


@dataclass(frozen=True)
class Entity:
    text: str
    label: str
    start_char: int
    end_char: int


@dataclass(frozen=True)
class InferenceError:
    """Why one text has no entities; `reason` is its dead letter's reason."""

    detail: str
    reason: Reason = Reason.INFERENCE_ERROR


def load_pipeline(model: str, keep: Sequence[str] = ()) -> Language:
    """Load a spaCy package name or path with only what NER needs (plus the components in `keep`)."""
    exclude = [name for name in NOT_NEEDED_FOR_NER if name not in keep]
    target: str | Path = Path(model) if ("/" in model or model.startswith(".")) else model
    nlp = spacy.load(target, exclude=exclude)
    if "ner" not in nlp.pipe_names:
        msg = f"spaCy model {model!r} has no 'ner' component (components: {nlp.pipe_names})"
        raise ValueError(msg)
    if "tok2vec" in nlp.pipe_names and "tok2vec" not in keep:
        if not getattr(nlp.get_pipe("tok2vec"), "listening_components", []):
            nlp.remove_pipe("tok2vec")
    log.info("loaded spaCy model %s %s with components %s", model, nlp.meta.get("version"), nlp.pipe_names)
    return nlp


def model_identity(nlp: Language) -> tuple[str, str]:
    """The model's name and version as its meta declares them (e.g. en_core_web_sm, 3.8.0)."""
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'unknown')}", str(meta.get("version", "unknown"))


def _entities(doc) -> list[Entity]:
    return [Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def extract_entities(
    nlp: Language, texts: Sequence[str], batch_size: int = 64
) -> list[list[Entity] | InferenceError]:
    """Entities for every text, in order. One text that breaks the pipeline fails alone, not the batch.

    Runs inside nlp.memory_zone() so that a worker processing text for weeks does not grow its vocab.
    """
    try:
        with nlp.memory_zone():
            return [_entities(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]
    except Exception:  # noqa: BLE001 - isolate the culprit below, one text at a time
        log.warning("nlp.pipe failed on a batch of %d texts; retrying one by one", len(texts))
    results: list[list[Entity] | InferenceError] = []
    for text in texts:
        try:
            with nlp.memory_zone():
                results.append(_entities(nlp(text)))
        except Exception as exc:  # noqa: BLE001 - becomes a dead letter
            results.append(InferenceError(f"{type(exc).__name__}: {exc}"[:500]))
    return results
