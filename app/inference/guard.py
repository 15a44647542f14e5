"""No whitespace-free run longer than a limit reaches spaCy's tokenizer in one piece (issue 23).

The tokenizer peels prefixes and suffixes off a run one at a time, copying and re-searching the rest of the run at
every step, so a run of affix characters (`$$$…`, `((((…`, `'s's's…`) costs time quadratic in its length. Cut into
pieces of at most `limit` characters, a run costs at most quadratic in `limit`, so a text costs linear in its length.
The text is never changed: the pieces are tokenized one by one and joined into one Doc whose text is the original,
so every offset the pipeline returns is the original text's. Measurements: bench/tokenizer_shapes.py.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# The longest run the tokenizer sees in one piece. Well under the length at which the costliest shapes pass 50 ms,
# and low enough that a text of the service's largest size (MAX_TEXT_LENGTH) made of them costs the tokenizer less
# than the per-step budget; longer than any run in the bench corpus (bench/results/tokenizer-shapes.json).
DEFAULT_LIMIT = 200
# A cut falls just after a character that is not a letter or digit (a `/`, a `，`) when one is in the second half of
# the piece, so that a long URL or a CJK sentence is cut between its parts rather than inside a word.
_LAST_BREAK = re.compile(r"(?s).*[\W_]")


@cache
def _long_run(limit: int) -> re.Pattern[str]:
    # The lookbehind fails at once inside a run, so each run is scanned once: linear, whatever the limit.
    # re's \s is exactly str.isspace(), the tokenizer's own test.
    return re.compile(rf"(?<!\S)\S{{{limit + 1},}}")


def unsafe_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """The (start, end) of each whitespace-free run longer than `limit`: the runs the tokenizer may not see whole."""
    if limit < 1:
        msg = f"run limit must be at least 1, got {limit}"
        raise ValueError(msg)
    return [m.span() for m in _long_run(limit).finditer(text)]


def _cut(text: str, start: int, limit: int) -> int:
    end = start + limit
    found = _LAST_BREAK.match(text, start + limit // 2, end)
    return found.end() if found else end


def pieces(text: str, limit: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) spans that cover `text` exactly, none holding a run longer than `limit`.

    Cuts fall only inside the unsafe runs, so a text without one is a single piece.
    """
    bounds = [0]
    for start, end in unsafe_spans(text, limit):
        while end - start > limit:
            start = _cut(text, start, limit)
            bounds.append(start)
    bounds.append(len(text))
    return list(pairwise(bounds))


def make_doc(nlp: Language, text: str, limit: int = DEFAULT_LIMIT) -> Doc:
    """`nlp.make_doc(text)`, except that a text with unsafe runs is tokenized piece by piece.

    The Doc's text is `text`, character for character: entities' start_char/end_char need no mapping back.
    A cut adds a token boundary inside a long run, and a sentence start (Doc.from_docs marks each piece's first
    token), so no entity spans a cut.
    """
    spans = pieces(text, limit)
    if len(spans) == 1 or len(text) > nlp.max_length:  # the second: nlp.make_doc raises its own error, unchanged
        return nlp.make_doc(text)
    docs = [nlp.make_doc(text[start:end]) for start, end in spans]
    return type(docs[0]).from_docs(docs, ensure_whitespace=False)
