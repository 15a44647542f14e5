"""The soak's input: every message brings new words, and the corpus text stays whole."""

from bench.soak import growth, high_cardinality


def test_every_message_brings_words_never_seen_before():
    doc = {"uuid": "u", "text": "Ada Lovelace met Charles Babbage in London.", "lang": "en"}
    texts = [high_cardinality(doc, i)["text"] for i in range(2000)]
    assert all(t.startswith(doc["text"] + " ") for t in texts)
    new_words = [set(t.split()) - set(doc["text"].split()) for t in texts]
    seen: set[str] = set()
    for words in new_words:
        assert words - seen - {"Reported", "by", "of", "Labs."}, "a message brought no new word"
        seen |= words
    assert doc["text"] == "Ada Lovelace met Charles Babbage in London."  # the corpus entry is not modified


def test_growth_compares_the_end_with_just_after_warm_up():
    flat = [{"rss_mb": {"py-worker": 400.0}} for _ in range(20)]
    assert growth(flat, "py-worker") == 0.0
    rising = [{"rss_mb": {"py-worker": 400.0 + 10 * i}} for i in range(20)]
    assert growth(rising, "py-worker") > 5
    assert growth(flat[:5], "py-worker") is None  # too few samples to say


def test_growth_since_the_middle_tells_levelling_off_from_a_leak():
    levelled = [{"rss_mb": {"jvm": min(600.0 + 40 * i, 900.0)}} for i in range(40)]  # grows, then flat
    assert growth(levelled, "jvm") > 5
    assert growth(levelled, "jvm", since=0.5) == 0.0
    leaking = [{"rss_mb": {"jvm": 600.0 + 10 * i}} for i in range(40)]
    assert growth(leaking, "jvm", since=0.5) > 5
