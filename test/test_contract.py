"""The shared types: the batch stats' JSON both sides read, the timestamp bounds, a record's size budget, and the
frozen (hashable) data the per-worker model cache is keyed by."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from app.contract import (
    DEFAULT_RECORD_BYTES,
    HEADER_FRAMING_BYTES,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    RECORD_FRAMING_BYTES,
    BatchStats,
    Entity,
    InferenceError,
    LangStats,
    Limits,
    Message,
    Reason,
    RecordBudget,
    Rejection,
    Row,
    Source,
    clamp_timestamp_ms,
    headers_bytes,
    timestamp_in_range,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def test_batch_stats_round_trip_through_json():
    stats = BatchStats()
    stats.lang("en").messages = 3
    stats.lang("en").dead_letters["empty_text"] = 1
    stats.lang("en").inference_seconds = 0.25
    stats.lang("unknown").dead_letters["invalid_json"] = 2
    assert stats.lang("en") is stats.lang("en")  # one LangStats per language, not a fresh one per call
    back = BatchStats.from_json(stats.to_json())
    assert back == stats
    assert back.langs["en"] == LangStats(3, 0, 0, {"empty_text": 1}, 0.25, None)
    assert BatchStats.from_json(stats.to_json().encode()) == stats  # bytes, as Arrow may hand them over


@pytest.mark.parametrize(
    "text",
    [
        '{"en": {"messages": 1, "results": 1, "entity_count": 4}}',  # renamed: entities -> entity_count
        '{"en": {"messages": 1, "latency_ms": 3}}',  # unknown
    ],
)
def test_an_unknown_or_renamed_key_fails_loudly_instead_of_reading_zero(text):
    with pytest.raises(TypeError, match="entity_count|latency_ms"):
        BatchStats.from_json(text)


def test_the_timestamp_bounds_are_the_first_and_last_millisecond_of_years_1_to_9999():
    assert MIN_TIMESTAMP_MS == ms(datetime(1, 1, 1, tzinfo=UTC))
    assert MAX_TIMESTAMP_MS == ms(datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC))
    # Both bounds are writable as datetimes; one millisecond past either is not.
    assert (EPOCH + timedelta(milliseconds=MAX_TIMESTAMP_MS)).isoformat() == "9999-12-31T23:59:59.999000+00:00"
    with pytest.raises(OverflowError):
        EPOCH + timedelta(milliseconds=MAX_TIMESTAMP_MS + 1)
    with pytest.raises(OverflowError):
        EPOCH + timedelta(milliseconds=MIN_TIMESTAMP_MS - 1)


@pytest.mark.parametrize(
    ("given", "clamped"),
    [
        (MIN_TIMESTAMP_MS, MIN_TIMESTAMP_MS),
        (MIN_TIMESTAMP_MS - 1, MIN_TIMESTAMP_MS),
        (-(2**63), MIN_TIMESTAMP_MS),
        (0, 0),
        (1_700_000_000_000, 1_700_000_000_000),
        (MAX_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
        (MAX_TIMESTAMP_MS + 1, MAX_TIMESTAMP_MS),
        (2**63 - 1, MAX_TIMESTAMP_MS),
    ],
)
def test_clamp_timestamp_ms_at_and_over_the_bounds(given, clamped):
    assert clamp_timestamp_ms(given) == clamped
    assert timestamp_in_range(given) is (given == clamped)


def test_the_default_record_budget_leaves_room_for_framing_and_growth():
    budget = RecordBudget(DEFAULT_RECORD_BYTES)
    assert budget.max_result_bytes == DEFAULT_RECORD_BYTES - 8 * 1024
    assert budget.max_dead_letter_bytes == DEFAULT_RECORD_BYTES - RECORD_FRAMING_BYTES


def test_headers_are_sized_with_their_framing():
    assert headers_bytes(()) == 0
    assert headers_bytes((("é", b"12"), ("k", None))) == 2 + 2 + 1 + 2 * HEADER_FRAMING_BYTES


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (Limits(1000, frozenset({"en", "fr"})), "max_text_length"),
        (RecordBudget(DEFAULT_RECORD_BYTES), "record_bytes"),
        (Message("u", "t", "en"), "text"),
        (Rejection(Reason.POISON, "d"), "detail"),
        (Source("in", 0, 1, None), "offset"),
        (Row(b"k", b"v", Source("in", 0, 1, None)), "poison"),
        (Entity("Ulm", "GPE", "LOCATION", 0, 3), "label"),
        (InferenceError("boom"), "reason"),
    ],
)
def test_shared_values_are_frozen_and_hash_by_value(value, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)
    assert hash(value) == hash(dataclasses.replace(value))  # an equal copy keys the same cache entry
    assert {value: 1}[dataclasses.replace(value)] == 1


def test_reasons_are_their_wire_strings():
    assert Reason.POISON == "poison" and f"{Reason.LANG_UNCERTAIN}" == "lang_uncertain"
    assert len({r.value for r in Reason}) == len(Reason)
