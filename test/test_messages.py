"""Parsing and validation of raw input values."""

import json

import pytest

from app.contract import AUTO, Limits, Message, Reason, Rejection
from app.messages import parse_message

LIMITS = Limits(max_text_length=50, supported_langs=frozenset({"en"}))


def js(obj) -> bytes:
    return json.dumps(obj).encode()


def test_valid_message():
    assert parse_message(js({"uuid": "u1", "text": "Paris", "lang": "en"}), LIMITS) == Message("u1", "Paris", "en")


def test_extra_fields_are_ignored():
    assert isinstance(parse_message(js({"uuid": "u", "text": "t", "lang": "en", "x": 1}), LIMITS), Message)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, Reason.NULL_VALUE),
        (b"\xff\xfe", Reason.INVALID_UTF8),
        (b"{not json", Reason.INVALID_JSON),
        (b"", Reason.INVALID_JSON),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b"42", Reason.NOT_AN_OBJECT),
        (b"null", Reason.NOT_AN_OBJECT),
        (js({"text": "t", "lang": "en"}), Reason.MISSING_UUID),
        (js({"uuid": None, "text": "t", "lang": "en"}), Reason.MISSING_UUID),
        (js({"uuid": 7, "text": "t", "lang": "en"}), Reason.INVALID_UUID),
        (js({"uuid": " ", "text": "t", "lang": "en"}), Reason.INVALID_UUID),
        (js({"uuid": "u", "lang": "en"}), Reason.MISSING_TEXT),
        (js({"uuid": "u", "text": ["t"], "lang": "en"}), Reason.INVALID_TEXT),
        (js({"uuid": "u", "text": " \n", "lang": "en"}), Reason.EMPTY_TEXT),
        (js({"uuid": "u", "text": "x" * 51, "lang": "en"}), Reason.TEXT_TOO_LONG),
        (js({"uuid": "u", "text": "t", "lang": 1}), Reason.INVALID_LANG),
        (js({"uuid": "u", "text": "t", "lang": "de"}), Reason.UNSUPPORTED_LANG),
    ],
)
def test_rejections_name_the_reason(value, reason):
    result = parse_message(value, LIMITS)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert result.detail


def test_an_omitted_null_or_auto_lang_is_left_to_detection():
    for obj in (
        {"uuid": "u", "text": "t"},
        {"uuid": "u", "text": "t", "lang": None},
        {"uuid": "u", "text": "t", "lang": "auto"},
    ):
        assert parse_message(js(obj), LIMITS) == Message("u", "t", AUTO)


def test_text_at_the_limit_is_accepted():
    assert isinstance(parse_message(js({"uuid": "u", "text": "x" * 50, "lang": "en"}), LIMITS), Message)


def test_deeply_nested_json_is_a_rejection_not_a_crash():
    assert parse_message(b"[" * 100_000, LIMITS).reason is Reason.INVALID_JSON


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (b'{"uuid": "a", "uuid": "b", "text": "Paris", "lang": "en"}', "'uuid' appears twice"),
        (b'{"uuid": "a", "text": "Paris", "lang": "en", "meta": {"k": 1, "k": 2}}', "'k' appears twice"),
        (b'{"uuid": "a", "text": "Paris", "lang": "en", "score": NaN}', "NaN is not a JSON number"),
        (b'{"uuid": "a", "text": "Paris", "lang": "en", "score": -Infinity}', "-Infinity is not a JSON number"),
    ],
)
def test_json_is_strict_no_key_twice_and_no_nan(value, words):
    rejection = parse_message(value, LIMITS)
    assert isinstance(rejection, Rejection) and rejection.reason == Reason.INVALID_JSON and words in rejection.detail
