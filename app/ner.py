"""Named-entity recognition as plain functions over texts and a loaded spaCy pipeline (no Spark here)."""

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
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


class VocabWarmup:
    """The first `chars` characters of text a model sees leave their words in its vocab for good; after that every
    call runs in a memory zone, whose new words are dropped at its end.

    A call re-creates every word it meets that the vocab lacks (its lexeme: norm, shape, affixes, flags). Kept from
    the first documents, the common words of the feed are found instead (on the bench corpus: 8-12% less CPU per
    document after 1,500 other documents). Bounded by characters, so the vocab grows by a fixed amount at most,
    whatever the input.
    """

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, texts: Sequence[str]) -> bool:
        """Whether these texts are still within the warm-up (and count them)."""
        if self.left <= 0:
            return False
        self.left -= sum(len(t) for t in texts)
        return True


@dataclass(frozen=True)
class InferenceError:
    """Why one text has no entities; `reason` is its dead letter's reason."""

    detail: str
    reason: Reason = Reason.INFERENCE_ERROR


def _entities(doc) -> list[Entity]:
    return [Entity(e.text, e.label_, entity_type(e.label_), e.start_char, e.end_char) for e in doc.ents]


def _zone(nlp: Language, keep_vocab: bool) -> AbstractContextManager:
    return nullcontext() if keep_vocab else nlp.memory_zone()


def extract_entities(
    nlp: Language, texts: Sequence[str], batch_size: int = 64, keep_vocab: bool = False
) -> list[list[Entity] | InferenceError]:
    """Entities for every text, in order. One text that breaks the pipeline fails alone, not the batch.

    Runs inside nlp.memory_zone() so that a worker processing text for weeks does not grow its vocab; with
    `keep_vocab` the texts' words stay in the vocab for good (VocabWarmup: a bounded amount, by the caller).
    """
    try:
        with _zone(nlp, keep_vocab):
            return [_entities(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]
    except Exception:  # noqa: BLE001 - isolate the culprit below, one text at a time
        log.warning("nlp.pipe failed on a batch of %d texts; retrying one by one", len(texts))
    results: list[list[Entity] | InferenceError] = []
    for text in texts:
        try:
            with _zone(nlp, keep_vocab):
                results.append(_entities(nlp(text)))
        except Exception as exc:  # noqa: BLE001 - becomes a dead letter
            results.append(InferenceError(f"{type(exc).__name__}: {exc}"[:500]))
    return results
