"""The exactly-once writer on the real broker: what a committed transaction holds is visible once and marks its
offsets as written; an open or fenced transaction is never visible to read_committed; a zombie is fenced."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException

from app.contract import Annotated, Row, Source
from app.kafka.transactions import NOTHING_COMMITTED, PartitionWriter, TransactionConfig, Writers, transactional_id
from deploy.local.stack.clients import committed, consume_all, consumer_at


def config(bootstrap: str, result: str, dead: str, group: str, timeout_ms: int = 10_000) -> TransactionConfig:
    return TransactionConfig((("bootstrap.servers", bootstrap),), group, result, dead, timeout_ms, 1024 * 1024)


def record(n: int, ok: bool = True) -> Annotated:
    return Annotated(
        ok, f"k{n}".encode(), f"v{n}".encode(), None if ok else "invalid_json", "en", headers=(("h", b"x"),)
    )


def test_transactional_ids_are_stable_per_group_and_partition():
    assert transactional_id("g", "in", 3) == transactional_id("g", "in", 3) == "ner/g/in/3"
    assert len({transactional_id("g", "in", 0), transactional_id("g", "in", 1), transactional_id("h", "in", 0)}) == 3


@pytest.fixture
def topics(kafka_topics):
    return kafka_topics("tx-input", 1), kafka_topics("tx-result", 1), kafka_topics("tx-dead", 1)


def test_a_transaction_writes_results_and_dead_letters_and_commits_the_offset_after_the_last(kafka_bootstrap, topics):
    source, result, dead = topics
    group = f"g-{source}"
    writer = PartitionWriter(config(kafka_bootstrap, result, dead, group), source, 0)
    assert writer.written_until == NOTHING_COMMITTED and writer.unwritten(0)
    writer.write([(0, record(0)), (1, record(1, ok=False)), (2, record(2))])
    writer.close()
    assert [r.value for r in consume_all(kafka_bootstrap, result, expected_count=2)] == [b"v0", b"v2"]
    (letter,) = consume_all(kafka_bootstrap, dead, expected_count=1)
    assert (letter.key, letter.value, letter.headers) == (b"k1", b"v1", [("h", b"x")])
    assert committed(kafka_bootstrap, group) == {(source, 0): 3}
    again = PartitionWriter(config(kafka_bootstrap, result, dead, group), source, 0)  # a replay of the same slice
    assert again.written_until == 3 and not again.unwritten(2) and again.unwritten(3)
    again.close()


def test_an_open_transaction_of_a_dead_task_is_aborted_by_the_next_and_never_seen(kafka_bootstrap, topics):
    source, result, dead = topics
    group = f"g-{source}"
    crashed = PartitionWriter(config(kafka_bootstrap, result, dead, group), source, 0)
    crashed._producer.begin_transaction()  # as if the worker died between sending and committing
    crashed._send(record(0))
    crashed._producer.flush(10)
    successor = PartitionWriter(config(kafka_bootstrap, result, dead, group), source, 0)
    assert successor.written_until == NOTHING_COMMITTED  # the open transaction committed nothing
    successor.write([(0, record(0)), (1, record(1))])
    successor.close()
    assert [r.value for r in consume_all(kafka_bootstrap, result, idle=3)] == [b"v0", b"v1"]
    uncommitted = consumer_at(kafka_bootstrap, [result], isolation_level="read_uncommitted")
    try:  # the aborted record is in the log: only read_committed hides it
        seen = [r.value for rs in uncommitted.poll(timeout_ms=3000).values() for r in rs]
    finally:
        uncommitted.close()
    assert seen.count(b"v0") == 2
    crashed.close()


def test_a_zombie_that_wakes_after_its_replacement_committed_is_fenced(kafka_bootstrap, topics):
    source, result, dead = topics
    group = f"g-{source}"
    zombie = PartitionWriter(config(kafka_bootstrap, result, dead, group), source, 0)
    replacement = PartitionWriter(config(kafka_bootstrap, result, dead, group), source, 0)
    replacement.write([(0, record(0)), (1, record(1))])
    with pytest.raises(KafkaException):  # it still believes nothing is written, and tries the same slice
        zombie.write([(0, record(100)), (1, record(101))])
    zombie.close()
    replacement.write([(2, record(2))])  # the replacement goes on, unharmed
    replacement.close()
    assert [r.value for r in consume_all(kafka_bootstrap, result, idle=3)] == [b"v0", b"v1", b"v2"]
    assert committed(kafka_bootstrap, group) == {(source, 0): 3}


def test_writers_skip_what_is_written_and_write_each_partition_in_its_own_transaction(kafka_bootstrap, kafka_topics):
    source, result, dead = kafka_topics("tx-input", 2), kafka_topics("tx-result", 1), kafka_topics("tx-dead", 1)
    group = f"g-{source}"
    rows = [Row(None, b"", Source(source, p, o, None)) for o in range(3) for p in (0, 1)]
    writers = Writers(config(kafka_bootstrap, result, dead, group))
    first = rows[:4]  # offsets 0-1 of both partitions
    writers.write(first, [record(i) for i in range(4)])
    writers.close()
    replay = Writers(config(kafka_bootstrap, result, dead, group))
    todo = replay.unwritten(rows)
    assert [(r.source.partition, r.source.offset) for r in todo] == [(0, 2), (1, 2)]
    replay.write(todo, [record(4), record(5)])
    replay.close()
    assert sorted(r.value for r in consume_all(kafka_bootstrap, result, expected_count=6)) == [
        f"v{i}".encode() for i in range(6)
    ]
    assert committed(kafka_bootstrap, group) == {(source, 0): 3, (source, 1): 3}
