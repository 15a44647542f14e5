"""Named-entity recognition as plain functions over texts and a loaded spaCy pipeline (no Spark here)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.language import Language

from app.messages import Reason
from app.models import entity_type

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # the model's own label
    type: str  # PERSON, ORGANIZATION, LOCATION or OTHER (app.models.ENTITY_TYPES)
    start_char: int
    end_char: int


@dataclass(frozen=True)
class InferenceError:
    """Why one text has no entities; `reason` is its dead letter's reason."""

    detail: str
    reason: Reason = Reason.INFERENCE_ERROR


def _entities(doc) -> list[Entity]:
    return [Entity(e.text, e.label_, entity_type(e.label_), e.start_char, e.end_char) for e in doc.ents]


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
