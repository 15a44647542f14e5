"""Language detection for messages whose `lang` is omitted or "auto": the language and the detector's confidence.

py3langid (BSD-3-Clause; its 4.4 MB model ships inside the package, nothing is downloaded at run time) with
normalised probabilities, restricted to widely written languages plus `zxx` (not a language), so that a number, a
uuid or a URL is not forced into one. Built once per Python worker, on first use. Measurements behind the
choice, and what the confidence means: docs/language-detection.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

Detect = Callable[[str], tuple[str, float]]
# Enough of a text's words to tell its language; the rest only costs time.
MAX_DETECTION_CHARS = 2000
# Words that say nothing of a language: links, addresses, handles, and runs too long to be a word (hashes, base64).
_WORD = re.compile(r"\S+")
_NOT_LANGUAGE = re.compile(r"://|^www\.|@")
_MAX_WORD_CHARS = 40
# The candidate languages (docs/language-detection.md: a short list forces other languages into its members).
CANDIDATES = tuple(
    "af ar be bg bn bs ca cs cy da de el en es et eu fa fi fr ga gl he hi hr hu id is it ja ko lt lv mk ms mt nl no"
    " pl pt ro ru sk sl sq sr sv sw th tl tr uk ur vi zh zxx".split()
)


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def sample(text: str, chars: int = MAX_DETECTION_CHARS) -> str:
    """The text's first `chars` characters of words, past links and other runs that are no language (English
    behind a long URL is English); the text's start if it has no such words. One pass, linear in the text."""
    kept: list[str] = []
    total = 0
    for match in _WORD.finditer(text):
        word = match.group()
        if len(word) > _MAX_WORD_CHARS or _NOT_LANGUAGE.search(word) or not any(c.isalpha() for c in word):
            continue
        kept.append(word)
        total += len(word) + 1
        if total >= chars:
            break
    return " ".join(kept)[:chars] if kept else text[:chars]


def detect_language(text: str) -> tuple[str, float]:
    """The most likely language as an ISO 639-1 code ("zxx": not a language), and its probability in [0, 1]."""
    lang, probability = _identifier().classify(sample(text))
    return str(lang), float(probability)
