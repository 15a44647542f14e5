"""Parsing and validation of raw input messages: bytes in, a Message or a Rejection out (errors as data)."""

import json
from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Machine-readable dead-letter reasons."""

    NULL_VALUE = "null_value"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_UUID = "missing_uuid"
    INVALID_UUID = "invalid_uuid"
    MISSING_TEXT = "missing_text"
    INVALID_TEXT = "invalid_text"
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    INVALID_LANG = "invalid_lang"
    UNSUPPORTED_LANG = "unsupported_lang"
    # lang omitted or "auto", and the detector was not sure enough (LANG_MIN_CONFIDENCE).
    LANG_UNCERTAIN = "lang_uncertain"
    INFERENCE_ERROR = "inference_error"
    # The per-message budget ran out: the inference process was killed and restarted.
    INFERENCE_TIMEOUT = "inference_timeout"
    # The inference process died (a crash, a signal, an allocation over its memory limit) on this message alone.
    INFERENCE_CRASHED = "inference_crashed"
    RESULT_TOO_LARGE = "result_too_large"
    # Any other exception while handling this one message (parse, validate, serialise): the boundary's catch-all.
    INTERNAL_ERROR = "internal_error"
    # Found by the quarantine after its micro-batch failed repeatedly (per-message isolation could not catch it).
    POISON = "poison"


AUTO = "auto"  # a message's lang when the service is to detect it


@dataclass(frozen=True)
class Message:
    uuid: str
    text: str
    lang: str


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Limits:
    """What a valid message may contain; picklable, shipped to the Python workers."""

    max_text_length: int
    supported_langs: frozenset[str]


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


def parse_message(value: bytes | None, limits: Limits) -> Message | Rejection:
    """Turn a Kafka value into a Message, or say precisely why it cannot be one."""
    if value is None:
        return Rejection(Reason.NULL_VALUE, "the Kafka message has a null value")
    try:
        decoded = bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(Reason.INVALID_UTF8, f"value is not UTF-8: {exc}")
    try:
        obj = json.loads(decoded)
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
    if obj.get("lang") is None or obj.get("lang") == AUTO:
        return Message(uuid=uuid, text=text, lang=AUTO)  # the service detects it
    lang = _required_string(obj, "lang", Reason.INVALID_LANG, Reason.INVALID_LANG)
    if isinstance(lang, Rejection):
        return lang
    if lang not in limits.supported_langs:
        supported = ",".join(sorted(limits.supported_langs))
        return Rejection(Reason.UNSUPPORTED_LANG, f"lang {lang[:50]!r} is not supported (supported: {supported})")
    return Message(uuid=uuid, text=text, lang=lang)
