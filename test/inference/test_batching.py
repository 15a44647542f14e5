"""How a language's texts reach the model: calls bounded by characters and count, an outcome for every text in
order whatever its call did, and failure details that are bounded, valid UTF-8."""

import orjson
import pytest

from app.contract import Entity, InferenceError, Reason
from app.inference.batching import MAX_DETAIL_CHARS, char_groups, clean, describe, infer_texts


def test_char_groups_bound_characters_and_count():
    texts = ["a" * 10, "b" * 10, "c" * 25, "d", "e", "f"]
    assert char_groups(texts, max_chars=20, max_count=2) == [[0, 1], [2], [3, 4], [5]]
    assert char_groups([], 10, 10) == []


def test_a_text_longer_than_the_bound_goes_alone_and_every_index_is_kept_in_order():
    texts = ["x" * 5, "y" * 100, "z" * 5, "w" * 5]
    groups = char_groups(texts, max_chars=12, max_count=10)
    assert groups == [[0], [1], [2, 3]]
    assert [i for g in groups for i in g] == list(range(len(texts)))


def one_entity_each(calls: list[list[str]], fail_on: str | None = None):
    """An infer function (texts -> outcomes) that records its calls and raises on a call holding `fail_on`."""

    def infer(texts: list[str]) -> list:
        calls.append(texts)
        if fail_on is not None and fail_on in texts:
            raise RuntimeError(f"model failed on {fail_on!r}")
        return [[Entity(t, "LEN", "OTHER", 0, len(t))] for t in texts]

    return infer


def test_outcomes_come_back_in_order_from_bounded_calls():
    texts = [f"text {i}" * (i + 1) for i in range(7)]
    calls: list[list[str]] = []
    outcomes = infer_texts(texts, one_entity_each(calls), max_chars=30, max_count=3)
    assert [o[0].text for o in outcomes] == texts
    assert len(calls) > 1 and all(len(c) <= 3 and (len(c) == 1 or sum(map(len, c)) <= 30) for c in calls)


def test_a_call_that_raises_costs_its_own_texts_only():
    texts = ["a", "b", "c", "d", "e"]
    calls: list[list[str]] = []
    outcomes = infer_texts(texts, one_entity_each(calls, fail_on="c"), max_chars=100, max_count=2)
    assert calls == [["a", "b"], ["c", "d"], ["e"]]
    assert [o[0].text for o in outcomes[:2]] == ["a", "b"] and outcomes[4][0].text == "e"
    assert outcomes[2] == outcomes[3] == InferenceError("RuntimeError: model failed on 'c'")
    assert outcomes[2].reason is Reason.INFERENCE_ERROR


def test_describe_names_the_exception_and_keeps_500_characters():
    detail = describe(ValueError("x" * 10_000))
    assert detail.startswith("ValueError: xxx") and len(detail) == MAX_DETAIL_CHARS == 500


@pytest.mark.parametrize("hostile", ["\ud800", "a\udfffb", "\udc80" * 2000])
def test_a_lone_surrogate_becomes_an_escape_that_serialises(hostile):
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(hostile)  # what the dead letter's writer would do with the raw text
    detail = describe(UnicodeError(hostile))
    assert orjson.loads(orjson.dumps(detail)) == detail
    detail.encode("utf-8")  # strict: no surrogate left
    kept = clean(hostile)
    assert kept == hostile[:MAX_DETAIL_CHARS].encode("utf-8", "backslashreplace").decode()
    assert len(kept) <= MAX_DETAIL_CHARS * len("\\udc80")  # 500 characters kept, each at most a 6-character escape


def test_clean_keeps_valid_text_as_it_is():
    assert clean("Zoë in Zürich 東京 🙂") == "Zoë in Zürich 東京 🙂"
    assert clean("é" * 600) == "é" * 500
