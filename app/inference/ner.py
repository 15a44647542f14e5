"""Named-entity recognition as plain functions over texts and a loaded spaCy pipeline (no Spark here)."""

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext

from spacy.language import Language
from spacy.tokens import Doc

from app.contract import Entity, InferenceError, Outcome
from app.entity_types import entity_type
from app.inference import guard
from app.inference.isolation import Progress

log = logging.getLogger(__name__)


class VocabWarmup:
    """The first `chars` characters of text a model sees leave their words in its vocab for good; after that every
    call runs in a memory zone, whose new words are dropped at its end.

    A call re-creates every word it meets that the vocab lacks (its lexeme: norm, shape, affixes, flags). Kept from
    the first documents, the common words of the feed are found instead (less CPU per document:
    docs/benchmarks.md). Bounded by characters, so the vocab grows by a fixed amount at most, whatever the input.
    """

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, texts: Sequence[str]) -> bool:
        """Whether these texts are still within the warm-up (and count them)."""
        if self.left <= 0:
            return False
        self.left -= sum(len(t) for t in texts)
        return True


def _entities(doc) -> list[Entity]:
    return [Entity(e.text, e.label_, entity_type(e.label_), e.start_char, e.end_char) for e in doc.ents]


def _zone(nlp: Language, keep_vocab: bool) -> AbstractContextManager:
    return nullcontext() if keep_vocab else nlp.memory_zone()


def _docs(nlp: Language, texts: Sequence[str], progress: Progress | None, run_limit: int) -> Iterator[Doc]:
    """The texts tokenized one by one as the pipeline pulls them, each step marked for the watchdog."""
    for i, text in enumerate(texts):
        if progress is not None:
            progress(i, False)
        doc = guard.make_doc(nlp, text, run_limit)
        if progress is not None:
            progress(i, True)
        yield doc


def extract_entities(
    nlp: Language,
    texts: Sequence[str],
    batch_size: int = 64,
    keep_vocab: bool = False,
    progress: Progress | None = None,
    run_limit: int = guard.DEFAULT_LIMIT,
) -> list[Outcome]:
    """Entities for every text, in order. One text that breaks the pipeline fails alone, not the batch.

    Runs inside nlp.memory_zone() so that a worker processing text for weeks does not grow its vocab; with
    `keep_vocab` the texts' words stay in the vocab for good (VocabWarmup: a bounded amount, by the caller).
    `progress` hears which text is being tokenized (app/inference/isolation.py times each step).
    """
    try:
        with _zone(nlp, keep_vocab):
            return [_entities(doc) for doc in nlp.pipe(_docs(nlp, texts, progress, run_limit), batch_size=batch_size)]
    except Exception:  # noqa: BLE001 - isolate the culprit below, one text at a time
        log.warning("nlp.pipe failed on a batch of %d texts; retrying one by one", len(texts))
    results: list[Outcome] = []
    for i, text in enumerate(texts):
        try:
            with _zone(nlp, keep_vocab):
                if progress is not None:
                    progress(i, False)
                doc = guard.make_doc(nlp, text, run_limit)
                if progress is not None:
                    progress(i, True)
                results.append(_entities(nlp(doc)))
        except Exception as exc:  # noqa: BLE001 - becomes a dead letter
            results.append(InferenceError(f"{type(exc).__name__}: {exc}"[:500]))
    return results
