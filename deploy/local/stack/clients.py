"""Kafka from the outside, with kafka-python: readiness, topics, producing, consuming and offsets.

A bootstrap is the usual `host:port[,host:port...]` string. Every function opens its clients and closes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

CLIENT_ID = "local-stack"
# Offsets as {(topic, partition): offset}, the shape every helper here returns.
Offsets = dict[tuple[str, int], int]


def servers(bootstrap: str) -> list[str]:
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


@contextmanager
def admin(bootstrap: str, **config: Any) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=servers(bootstrap), client_id=CLIENT_ID, **config)
    try:
        yield client
    finally:
        client.close()


def broker_ready(bootstrap: str) -> bool:
    """The broker answers Metadata and lists itself: an open port is not enough, a fenced broker (just started)
    is not listed and cannot create topics yet. It also coordinates groups: asking for a group's offsets makes it
    create __consumer_offsets, which a fresh broker lacks until first used (Burrow exits without it; the first
    offset commit would meet CoordinatorNotAvailable)."""
    try:
        with admin(bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=2000) as client:
            if not client.describe_cluster().get("brokers"):
                return False
            client.list_group_offsets({f"{CLIENT_ID}-readiness": None})
            return True
    except (KafkaError, OSError):
        return False


def create_topics(
    bootstrap: str, topics: Iterable[str], partitions: int = 1, configs: Mapping[str, str] | None = None
) -> list[str]:
    """Create the topics that do not exist yet (replication factor 1); returns those created."""
    created = []
    with admin(bootstrap) as client:
        for name in topics:
            try:
                client.create_topics(
                    [NewTopic(name, partitions, 1, topic_configs=dict(configs or {}))], wait_for_metadata=True
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    return created


def delete_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Delete the topics that exist; missing ones are not an error (clean-up)."""
    with admin(bootstrap) as client:
        client.delete_topics(list(topics), raise_errors=False)


def list_topics(bootstrap: str) -> list[str]:
    with admin(bootstrap) as client:
        return sorted(client.list_topics())


def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
    """Write (key, value) records and wait until the broker has acknowledged every one; how many were sent."""
    producer = KafkaProducer(
        bootstrap_servers=servers(bootstrap), acks="all", linger_ms=5, max_request_size=8 * 1024 * 1024
    )
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in records]
        producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises the send error, if any
        return len(futures)
    finally:
        producer.close()


def jsonl_records(path: Path) -> list[tuple[bytes | None, bytes]]:
    """A JSON Lines file as records keyed by each line's uuid; a line that is not a JSON object goes unkeyed
    (the job dead-letters it)."""
    records: list[tuple[bytes | None, bytes]] = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            key = str(json.loads(line)["uuid"]).encode()
        except (ValueError, TypeError, KeyError):
            key = None
        records.append((key, line))
    return records


def consumer_at(
    bootstrap: str,
    topics: Iterable[str],
    start: str | Mapping[int, int] = "beginning",
    timeout: float = 30.0,
    **config: Any,
) -> KafkaConsumer:
    """A group-less, read_committed consumer assigned every partition of `topics` once they exist, positioned at the
    "beginning", the "end", or {partition: offset} (others at the beginning)."""
    # read_committed: records of an open or aborted transaction (OUTPUT_GUARANTEE=exactly-once) are never read.
    config.setdefault("isolation_level", "read_committed")
    consumer = KafkaConsumer(bootstrap_servers=servers(bootstrap), group_id=None, enable_auto_commit=False, **config)
    assigned = []
    deadline = time.monotonic() + timeout
    for topic in topics:
        while not (partitions := consumer.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                consumer.close()
                msg = f"topic {topic!r} has no partitions on {bootstrap} after {timeout:.0f}s"
                raise UnknownTopicOrPartitionError(msg)
            time.sleep(0.2)
        assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    if start == "end":
        consumer.seek_to_end()
    else:
        consumer.seek_to_beginning()
        if isinstance(start, Mapping):
            for tp in assigned:
                if tp.partition in start:
                    consumer.seek(tp, start[tp.partition])
    return consumer


def consume_all(
    bootstrap: str, topic: str, expected_count: int | None = None, timeout: float = 30.0, idle: float = 2.0
) -> list[ConsumerRecord]:
    """Read `topic` from the beginning, without a consumer group.

    With `expected_count`, stop as soon as that many records arrived or after `timeout` seconds (a streaming job
    may still be writing); without it, stop once nothing new came for `idle` seconds. Records of one partition
    keep their order.
    """
    deadline = time.monotonic() + timeout
    consumer = consumer_at(bootstrap, [topic], timeout=timeout)
    try:
        records: list[ConsumerRecord] = []
        last_seen = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            now = time.monotonic()
            if batch:
                last_seen = now
            if expected_count is not None and len(records) >= expected_count:
                break
            if expected_count is None and now - last_seen >= idle:
                break
        return records
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str) -> Offsets:
    """The next offset to be written in each partition of `topic`."""
    consumer = consumer_at(bootstrap, [topic])
    try:
        return {(tp.topic, tp.partition): offset for tp, offset in consumer.end_offsets(consumer.assignment()).items()}
    finally:
        consumer.close()


def committed(bootstrap: str, group: str) -> Offsets:
    """The offsets a consumer group has committed (the next offset it will read); {} for an unknown group."""
    with admin(bootstrap) as client:
        offsets = client.list_group_offsets({group: None}).get(group, {})
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def wait_committed(bootstrap: str, group: str, topic: str, timeout: float) -> bool:
    """Wait until `group` has committed `topic`'s current end offsets (the job finished its last batch)."""
    ends = end_offsets(bootstrap, topic)
    deadline = time.monotonic() + timeout
    while True:
        done = committed(bootstrap, group)
        if all(done.get(tp, -1) >= end for tp, end in ends.items()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
