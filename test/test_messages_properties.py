"""Property tests: `parse_message` never raises, whatever the bytes; it returns a valid Message or a Rejection."""

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.contract import AUTO, Limits, Message, Reason, Rejection
from app.messages import parse_message

LIMITS = Limits(max_text_length=200, supported_langs=frozenset({"en", "de"}))
FIELDS = ("uuid", "text", "lang")

# JSON has no NaN or Infinity (RFC 8259): parse_message refuses them, test_messages.py shows it.
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Objects that often look right: the three fields present or not, each of any JSON type, plus noise keys.
# Lone surrogates ("\\ud800" escapes) are valid JSON but not Unicode: Arrow cannot encode them to UTF-8.
surrogate_text = st.text(st.characters(categories=["Cs", "Lu", "Ll", "Zs"]), min_size=1, max_size=20)
field_value = st.sampled_from(["en", "de", "fr", "", "  "]) | st.text(max_size=250) | surrogate_text | json_values
messages = st.fixed_dictionaries({}, optional={f: field_value for f in FIELDS}) | st.dictionaries(
    st.sampled_from([*FIELDS, "x"]) | st.text(max_size=5), json_values, max_size=5
)


def check(result: Message | Rejection) -> None:
    assert isinstance(result, (Message, Rejection))
    if isinstance(result, Message):
        assert isinstance(result.uuid, str) and result.uuid.strip()
        assert isinstance(result.text, str) and result.text.strip() and len(result.text) <= LIMITS.max_text_length
        assert result.lang in LIMITS.supported_langs | {AUTO}
        for value in (result.uuid, result.text, result.lang):
            value.encode("utf-8")  # what the Arrow batch back to Spark needs
    else:
        assert isinstance(result.reason, Reason) and isinstance(result.detail, str) and result.detail


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | st.none())
def test_random_bytes_never_raise(value):
    check(parse_message(value, LIMITS))


@settings(max_examples=500)
@given(json_values)
def test_any_json_document_never_raises(document):
    result = parse_message(json.dumps(document).encode(), LIMITS)
    check(result)
    if not isinstance(document, dict):
        assert isinstance(result, Rejection) and result.reason == Reason.NOT_AN_OBJECT


def _unicode(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=1000)
@given(messages)
@example({"uuid": "\ud800\udc00", "lang": "en", "text": "en"})  # an escaped surrogate pair: one valid character
@example({"uuid": "\ud800", "lang": "en", "text": "en"})  # a lone surrogate: not Unicode
def test_object_shapes_give_a_message_exactly_when_valid(obj):
    raw = json.dumps(obj, ensure_ascii=False)
    payload = raw.encode() if _unicode(raw) else json.dumps(obj).encode()  # else "\\ud800" escapes
    result = parse_message(payload, LIMITS)
    check(result)
    # The oracle judges what the bytes say, as any JSON reader decodes them: escaped surrogate pairs
    # ("\\ud800\\udc00") are one character there, lone ones stay lone.
    sent = json.loads(payload)
    valid = (
        _unicode(sent.get("uuid"))
        and sent["uuid"].strip()
        and _unicode(sent.get("text"))
        and sent["text"].strip()
        and len(sent["text"]) <= LIMITS.max_text_length
        and sent.get("lang") in ("en", "de", "auto", None)
    )
    assert isinstance(result, Message) == bool(valid)
    if valid:
        assert result == Message(sent["uuid"], sent["text"], sent.get("lang") or AUTO)


@given(st.integers(min_value=1, max_value=20_000))
@settings(max_examples=10, deadline=None)
def test_deep_nesting_is_a_rejection_not_a_crash(depth):
    check(parse_message(b"[" * depth + b"]" * depth, LIMITS))
    check(parse_message(b'{"a":' * depth + b"1" + b"}" * depth, LIMITS))


@given(st.binary(min_size=1, max_size=50))
def test_bytes_after_valid_json_are_invalid_json(junk):
    value = json.dumps({"uuid": "u", "text": "Rome", "lang": "en"}).encode() + b" " + junk
    result = parse_message(value, LIMITS)
    check(result)
    if junk.strip(b" \t\n\r"):
        assert isinstance(result, Rejection) and result.reason in (Reason.INVALID_JSON, Reason.INVALID_UTF8)


def test_lone_surrogates_are_rejected_not_passed_to_arrow():
    for field, reason in (("uuid", Reason.INVALID_UUID), ("text", Reason.INVALID_TEXT)):
        obj = {"uuid": "u", "text": "Paris", "lang": "en", field: "Paris \ud800 London"}
        result = parse_message(json.dumps(obj).encode(), LIMITS)
        assert isinstance(result, Rejection) and result.reason == reason, field
    assert isinstance(
        parse_message(json.dumps({"uuid": "u", "text": "Paris \U0001f600", "lang": "en"}).encode(), LIMITS), Message
    )  # a proper pair (an emoji) is fine
