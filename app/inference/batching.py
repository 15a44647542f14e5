"""How a language's texts reach the model: in calls bounded by characters as well as by count, each text getting
an outcome whatever happens to its call."""

from __future__ import annotations

from collections.abc import Sequence

from app.contract import InferenceError, Outcome
from app.inference.isolation import Infer

MAX_DETAIL_CHARS = 500


def describe(exc: BaseException) -> str:
    """An exception as a dead letter's detail: valid UTF-8 of bounded length (it may quote the hostile input)."""
    return clean(f"{type(exc).__name__}: {exc}")


def clean(detail: str) -> str:
    return detail[:MAX_DETAIL_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")


def char_groups(texts: Sequence[str], max_chars: int, max_count: int) -> list[list[int]]:
    """Indexes of `texts` in consecutive groups of at most max_count texts and max_chars characters (a longer
    text goes alone): what one nlp.pipe call holds in memory is bounded by characters, not only by count."""
    groups: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for i, text in enumerate(texts):
        if current and (chars + len(text) > max_chars or len(current) >= max_count):
            groups.append(current)
            current, chars = [], 0
        current.append(i)
        chars += len(text)
    if current:
        groups.append(current)
    return groups


def infer_texts(texts: list[str], infer: Infer, max_chars: int, max_count: int) -> list[Outcome]:
    """Outcomes for every text, in order, in calls bounded by characters as well as by count."""
    outcomes: list[Outcome] = [InferenceError("not run")] * len(texts)
    for group in char_groups(texts, max_chars, max_count):
        try:
            found = infer([texts[i] for i in group])
        except Exception as exc:  # noqa: BLE001 - extract_entities isolates texts; this is the last net
            found = [InferenceError(describe(exc))] * len(group)
        for i, outcome in zip(group, found, strict=True):
            outcomes[i] = outcome
    return outcomes
