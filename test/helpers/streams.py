"""Helpers for the streaming tests: settings for uuid-named topics, bad input, running a query to its end, reading
the output topics once or as they grow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.contract import DEFAULT_RECORD_BYTES, RecordBudget
from app.settings import Settings
from app.spark.pipeline import build_query
from deploy.local.stack.clients import consume_all, consumer_at
from test.helpers.annotating import context

LONG = "Paris " * 20_000  # 120,000 characters: over the default MAX_TEXT_LENGTH of 100,000
BAD = [  # (key, value, expected reason)
    (b"bad-json", b'{"uuid": "x", "text": ', "invalid_json"),
    (b"bad-utf8", b'{"uuid": "x", "text": "\xff\xfe", "lang": "en"}', "invalid_utf8"),
    (b"null-value", None, "null_value"),
    (b"array", b'["uuid", "text"]', "not_an_object"),
    (b"no-uuid", json.dumps({"text": "Rome", "lang": "en"}).encode(), "missing_uuid"),
    (b"int-uuid", json.dumps({"uuid": 5, "text": "Rome", "lang": "en"}).encode(), "invalid_uuid"),
    (b"no-text", json.dumps({"uuid": "u-no-text", "lang": "en"}).encode(), "missing_text"),
    (b"list-text", json.dumps({"uuid": "u-list", "text": ["Rome"], "lang": "en"}).encode(), "invalid_text"),
    (b"empty-text", json.dumps({"uuid": "u-empty", "text": "  ", "lang": "en"}).encode(), "empty_text"),
    (b"long-text", json.dumps({"uuid": "u-long", "text": LONG, "lang": "en"}).encode(), "text_too_long"),
    (b"int-lang", json.dumps({"uuid": "u-int-lang", "text": "Rome", "lang": 7}).encode(), "invalid_lang"),
    (b"german", json.dumps({"uuid": "u-de", "text": "Berlin ist schön", "lang": "de"}).encode(), "unsupported_lang"),
    (None, b"not json and no key", "invalid_json"),
]
RECORDS = RecordBudget(DEFAULT_RECORD_BYTES)


def stream_settings(bootstrap: str, topics: tuple[str, str, str], checkpoint: Path, **overrides: str) -> Settings:
    env = {
        "APP_ENV": "testing",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INPUT_TOPIC": topics[0],
        "RESULT_TOPIC": topics[1],
        "DEAD_LETTER_TOPIC": topics[2],
        "CHECKPOINT_LOCATION": str(checkpoint),
        "TRIGGER_INTERVAL": "available-now",
        "QUERY_NAME": f"q_{topics[0].replace('-', '_')}",
        **overrides,
    }
    return Settings.load(env)


def run_to_end(spark, settings: Settings, min_partitions: int = 2, timeout: float = 600, quarantined=None):
    """Run an availableNow query in this session until it has read everything; the finished query."""
    query = build_query(spark, settings, min_partitions, RECORDS, quarantined).start()
    try:
        assert query.awaitTermination(timeout), "the availableNow query did not finish in time"
    finally:
        query.stop()
    assert query.exception() is None
    return query


def parsed(record) -> dict:
    """An output record as {"key", "value", "headers", "original"}: a result's value is its parsed JSON; a dead
    letter's (a record with context headers) is its context, with `source` as a result has it, and `original` its
    value as written (the input's bytes)."""
    headers = list(record.headers or [])
    letter = context(headers)
    if "reason" not in letter:
        return {"key": record.key, "value": json.loads(record.value), "headers": headers, "original": None}
    source = {"topic": letter["topic"], "partition": int(letter["partition"]), "offset": int(letter["offset"])}
    return {"key": record.key, "value": {**letter, "source": source}, "headers": headers, "original": record.value}


def outputs(bootstrap: str, topic: str, expected: int | None = None, timeout: float = 60.0) -> list[dict]:
    """Every record of an output topic as parsed() gives it, with its "partition" and "offset"."""
    return [
        {**parsed(r), "partition": r.partition, "offset": r.offset}
        for r in consume_all(bootstrap, topic, expected_count=expected, timeout=timeout)
    ]


def original_value(dead_letter: dict) -> bytes | None:
    return dead_letter["original"]


def keyed_records(corpus: list[dict], n: int, max_chars: int = 400, prefix: str = "rel") -> list[tuple[bytes, bytes]]:
    """`n` messages with unique uuids (also the key), cycling over the corpus' shorter texts."""
    texts = [d["text"] for d in corpus if len(d["text"]) <= max_chars]
    docs = [{"uuid": f"{prefix}-{i:07d}", "text": texts[i % len(texts)], "lang": "en"} for i in range(n)]
    return [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs]


@dataclass
class Tail:
    """Reads the result and dead-letter topics from the beginning, keeping up with new records on each poll."""

    bootstrap: str
    result_topic: str
    dead_letter_topic: str
    results: list[dict] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = consumer_at(
            self.bootstrap, [self.result_topic, self.dead_letter_topic], max_partition_fetch_bytes=8 * 1024 * 1024
        )

    def poll(self, seconds: float = 0.5) -> int:
        """Fetch what arrived; returns how many records are known in total."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for tp, records in self._consumer.poll(timeout_ms=200, max_records=20000).items():
                target = self.results if tp.topic == self.result_topic else self.dead_letters
                target.extend(parsed(r) for r in records)
        return len(self.results) + len(self.dead_letters)

    def uuids(self) -> list[str]:
        """The uuid of every output record: the result's uuid field, the dead letter's key (its original key)."""
        return [r["value"]["uuid"] for r in self.results] + [
            d["key"].decode(errors="replace") for d in self.dead_letters if d["key"] is not None
        ]

    def sources(self) -> list[tuple[str, int, int]]:
        """Each output record's input message as (topic, partition, offset): a message's identity (two messages
        may carry the same uuid), which every result and dead letter records."""
        return [
            (o["value"]["source"]["topic"], o["value"]["source"]["partition"], o["value"]["source"]["offset"])
            for o in self.results + self.dead_letters
        ]

    def wait_until(
        self, done: Callable[[], bool], timeout: float, what: str, still_ok: Callable[[], None] = lambda: None
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not reached within {timeout:.0f}s ({self.poll(0)} records read)")
            still_ok()
            self.poll()

    def close(self) -> None:
        self._consumer.close()
