"""Parsing and validation of raw input messages: bytes in, a Message or a Rejection out (errors as data)."""

import json

from app.contract import AUTO, Limits, Message, Reason, Rejection


def _required_string(obj: dict, field: str, missing: Reason, invalid: Reason) -> str | Rejection:
    if field not in obj or obj[field] is None:
        return Rejection(missing, f"field {field!r} is missing or null")
    value = obj[field]
    if not isinstance(value, str):
        return Rejection(invalid, f"field {field!r} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A "\\ud800" escape is valid JSON but not Unicode: Arrow cannot send it back to Spark, so one such
        # message would fail its micro-batch on every restart.
        return Rejection(invalid, f"field {field!r} has a lone surrogate at character {exc.start}")
    return value


class _NotStrictJson(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _NotStrictJson(f"key {twice[:50]!r} appears twice in one object")
    return obj


def _no_constant(name: str) -> object:
    raise _NotStrictJson(f"{name} is not a JSON number")


def _passthrough(obj: dict, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The named fields the message has, each as text: a string as it is, any other JSON value as its JSON."""
    found = []
    for name in names:
        if name in obj:
            value = obj[name]
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            # A lone surrogate ("\\ud800" in the JSON) cannot be written as UTF-8: keep it as its escape.
            found.append((name, text.encode("utf-8", "backslashreplace").decode("utf-8")))
    return tuple(found)


def parse_message(value: bytes | None, limits: Limits) -> Message | Rejection:
    """Turn a Kafka value into a Message, or say precisely why it cannot be one."""
    if value is None:
        return Rejection(Reason.NULL_VALUE, "the Kafka message has a null value")
    try:
        decoded = bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(Reason.INVALID_UTF8, f"value is not UTF-8: {exc}")
    try:
        # Strict JSON (RFC 8259): a key given twice is ambiguous (readers disagree on which one wins), and NaN or
        # Infinity are not JSON, though Python's reader accepts them.
        obj = json.loads(decoded, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # ValueError: also an integer of over 4,300 digits
        return Rejection(Reason.INVALID_JSON, f"value is not JSON: {exc}"[:500])
    if not isinstance(obj, dict):
        return Rejection(Reason.NOT_AN_OBJECT, f"value is a JSON {type(obj).__name__}, not an object")
    uuid = _required_string(obj, "uuid", Reason.MISSING_UUID, Reason.INVALID_UUID)
    if isinstance(uuid, Rejection):
        return uuid
    if not uuid.strip():
        return Rejection(Reason.INVALID_UUID, "field 'uuid' is empty")
    text = _required_string(obj, "text", Reason.MISSING_TEXT, Reason.INVALID_TEXT)
    if isinstance(text, Rejection):
        return text
    if not text.strip():
        return Rejection(Reason.EMPTY_TEXT, "field 'text' is empty or whitespace")
    if len(text) > limits.max_text_length:
        return Rejection(
            Reason.TEXT_TOO_LONG, f"text has {len(text)} characters, the limit is {limits.max_text_length}"
        )
    fields = _passthrough(obj, limits.passthrough_fields)
    if obj.get("lang") is None or obj.get("lang") == AUTO:
        return Message(uuid=uuid, text=text, lang=AUTO, fields=fields)  # the service detects it
    lang = _required_string(obj, "lang", Reason.INVALID_LANG, Reason.INVALID_LANG)
    if isinstance(lang, Rejection):
        return lang
    if lang not in limits.supported_langs:
        supported = ",".join(sorted(limits.supported_langs))
        return Rejection(Reason.UNSUPPORTED_LANG, f"lang {lang[:50]!r} is not supported (supported: {supported})")
    return Message(uuid=uuid, text=text, lang=lang, fields=fields)
