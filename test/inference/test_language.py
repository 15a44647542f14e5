"""Language detection for lang omitted or "auto": English and French found with confidence, what is no language
(numbers, uuids, hashes) never confidently a language, words past links."""

import uuid

import pytest

from app.inference.language import CANDIDATES, MAX_DETECTION_CHARS, detect_language, sample
from app.settings import Settings

# What a message needs to be served without a lang (the default LANG_MIN_CONFIDENCE).
MIN_CONFIDENCE = Settings.load({}).inference.lang_min_confidence


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Albert Einstein was born in Ulm and later worked at the patent office in Bern.", "en"),
        ("Marie Curie est née à Varsovie et a travaillé à Paris toute sa vie.", "fr"),
        ("https://example.com/a/b?x=1 The weather in London is lovely today and everyone is in the park.", "en"),
    ],
)
def test_english_and_french_are_detected_with_confidence(text, lang):
    found, confidence = detect_language(text)
    assert found == lang and confidence > 0.9


@pytest.mark.parametrize("text", ["1234567890", "42", str(uuid.uuid4()), "a8f5f167f44f4964e6c998dee827110c", ""])
def test_what_is_no_language_is_not_confidently_one(text):
    found, confidence = detect_language(text)
    assert found == "zxx" or confidence < MIN_CONFIDENCE
    assert 0.0 <= confidence <= 1.0


def test_the_candidates_hold_the_served_languages_and_not_a_language():
    assert {"en", "fr", "zxx"} <= set(CANDIDATES) and len(set(CANDIDATES)) == len(CANDIDATES)


def test_the_sample_skips_links_handles_and_long_runs_and_is_bounded():
    text = "see https://x.io/p www.y.org @ada " + "h" * 41 + " 2024 Ada Lovelace wrote notes"
    assert sample(text) == "see Ada Lovelace wrote notes"
    assert sample("12345 67890") == "12345 67890"  # no words at all: the text's start
    long = "word " * 10_000
    kept = sample(long)
    assert MAX_DETECTION_CHARS - 5 <= len(kept) <= MAX_DETECTION_CHARS and long.startswith(kept)
