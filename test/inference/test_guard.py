"""The tokenizer guard: unsafe runs found in one linear pass, pieces that keep every offset, and the real model's
tokenizer never seeing a run longer than the limit (issue 23)."""

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.inference import guard

HOSTILE = list("()[{$%#*°…’'") + ["😀", "($", "'s", "US$"]
BENIGN = [
    "",
    "Albert Einstein was born in Ulm.",
    "See https://en.wikipedia.org/wiki/Albert_Einstein?oldid=123456789#Early_life for more (1879-1955).",
    "#NER #spaCy $100 (approx.) ... 'quoted' — “done”… 😀😀😀",
    "北京大学是中国的一所大学，位于北京市海淀区。",
]


def _runs(text: str) -> list[tuple[int, int]]:
    """Whitespace-free runs the way spaCy's tokenizer finds them: by str.isspace(), one character at a time."""
    runs, start = [], None
    for i, c in enumerate(text + " "):
        if c.isspace() and start is not None:
            runs.append((start, i))
            start = None
        elif not c.isspace() and start is None:
            start = i
    return runs


def _longest_run(text: str) -> int:
    return max((end - start for start, end in _runs(text)), default=0)


@pytest.mark.parametrize("unit", HOSTILE + ["a", "1", "中"])
def test_a_long_run_of_any_class_is_unsafe(unit):
    text = "Before it. " + unit * (300 // len(unit)) + "\nafter it."
    assert guard.unsafe_spans(text, 200) == [(11, 11 + 300 // len(unit) * len(unit))]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_is_one_piece(text):
    assert guard.unsafe_spans(text, guard.DEFAULT_LIMIT) == []
    assert guard.pieces(text, guard.DEFAULT_LIMIT) == [(0, len(text))]


def test_a_run_of_exactly_the_limit_is_safe():
    assert guard.unsafe_spans("x " + "$" * 200 + " y", 200) == []
    assert guard.unsafe_spans("x " + "$" * 201 + " y", 200) == [(2, 203)]


def test_cuts_fall_between_the_parts_of_a_long_url_or_cjk_sentence():
    url = "https://example.com/" + "/".join(f"segment{i}" for i in range(60))
    cjk = "北京大学是中国的一所大学，位于北京市海淀区。" * 30
    for text in (url, cjk):
        cuts = [start for start, _ in guard.pieces(text, 100)[1:]]
        assert cuts
        assert all(text[c - 1] in "/，。" for c in cuts)


def test_a_megabyte_of_hostile_text_is_cut_everywhere_it_must():
    text = ("$(" * 250_000 + " ") * 2  # 1 MB; a quadratic check would not finish
    spans = guard.pieces(text, 200)
    assert "".join(text[a:b] for a, b in spans) == text
    assert len(spans) == 2 * (500_000 // 200) - 1  # every 200 characters, the second run's start shared
    assert max(_longest_run(text[a:b]) for a, b in spans) == 200


def test_runs_just_under_the_limit_are_left_alone():
    text = ("$" * 200 + " ") * 5_000
    assert guard.unsafe_spans(text, 200) == []


def test_a_limit_under_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        guard.unsafe_spans("text", 0)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("$(a中/，") + [" ", "\n", "\u3000", "\xa0", "😀"]), max_size=300),
    limit=st.integers(1, 40),
)
def test_pieces_cover_the_text_and_bound_every_run(text, limit):
    spans = guard.pieces(text, limit)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a < b == c for (a, b), (c, _) in pairwise(spans))
    assert "".join(text[a:b] for a, b in spans) == text  # the pieces' offsets are the text's
    assert all(_longest_run(text[a:b]) <= limit for a, b in spans)
    cuts = [a for a, _ in spans[1:]]
    assert all(not text[c - 1].isspace() and not text[c].isspace() for c in cuts)  # only inside runs
    assert guard.unsafe_spans(text, limit) == [(a, b) for a, b in _runs(text) if b - a > limit]


class _Recording:
    """The model's tokenizer, noting the longest run of every text it is given."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.longest: list[int] = []

    def __call__(self, text):
        self.longest.append(_longest_run(text))
        return self.tokenizer(text)


@pytest.mark.parametrize("run", ["$" * 8_000, "(" * 10_000], ids=["8k $", "10k ("])
def test_the_model_sees_no_run_longer_than_the_limit(nlp, monkeypatch, run):
    text = "Barack Obama met Angela Merkel in Berlin. " + run + " Apple opened a store in Paris."
    recording = _Recording(nlp.tokenizer)
    monkeypatch.setattr(nlp, "tokenizer", recording)
    with nlp.memory_zone():
        doc = nlp(guard.make_doc(nlp, text, 200))
        entities = {(e.text, e.label_) for e in doc.ents}
        assert doc.text == text
        assert all(e.text == text[e.start_char : e.end_char] for e in doc.ents)
        pieces = guard.pieces(text, 200)
        assert all(any(a <= e.start_char < e.end_char <= b for a, b in pieces) for e in doc.ents)  # none spans a cut
    assert len(recording.longest) == len(run) // 200  # a piece every 200 characters of the run
    assert max(recording.longest) <= 200
    assert {("Barack Obama", "PERSON"), ("Berlin", "GPE"), ("Paris", "GPE")} <= entities


def test_a_text_without_unsafe_runs_is_tokenized_as_before(nlp):
    text = "Albert Einstein was born in Ulm."
    assert [t.text for t in guard.make_doc(nlp, text)] == [t.text for t in nlp.make_doc(text)]
