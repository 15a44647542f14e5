"""The toolbox's Kafka calls on the session's real broker: topics, producing a JSON Lines file, offsets."""

import json
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from deploy.local.stack import clients


def test_create_topics_is_idempotent(kafka_bootstrap: str, kafka_topics: Callable[..., str]):
    existing = kafka_topics("existing", 2)
    fresh = f"fresh-{existing}"
    try:
        assert clients.create_topics(kafka_bootstrap, [existing, fresh], partitions=3) == [fresh]
        assert {existing, fresh} <= set(clients.list_topics(kafka_bootstrap))
        assert clients.end_offsets(kafka_bootstrap, fresh) == {(fresh, p): 0 for p in range(3)}
    finally:
        clients.delete_topics(kafka_bootstrap, [fresh, "no-such-topic-at-all"])  # a missing one is no error


def test_a_jsonl_file_is_keyed_by_uuid_and_read_back(kafka_bootstrap, kafka_topics, tmp_path: Path):
    topic = kafka_topics("jsonl", 2)
    lines = [json.dumps({"uuid": f"u-{i}", "text": "Rome", "lang": "en"}) for i in range(20)] + ["{not json", "[1]"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n\n")

    records = clients.jsonl_records(tmp_path / "in.jsonl")
    assert clients.produce(kafka_bootstrap, topic, records) == 22

    received = clients.consume_all(kafka_bootstrap, topic, expected_count=22)
    assert sorted((r.key, r.value.decode()) for r in received if r.key) == sorted(
        (f"u-{i}".encode(), line) for i, line in enumerate(lines[:20])
    )
    assert sorted(r.value for r in received if r.key is None) == [b"[1]", b"{not json"]
    ends = clients.end_offsets(kafka_bootstrap, topic)
    assert sum(ends.values()) == 22 and set(ends) == {(topic, 0), (topic, 1)}
    # Positioned consumers: from given offsets, or at the end (nothing new yet).
    late = clients.consumer_at(kafka_bootstrap, [topic], {p: end - 1 for (_, p), end in ends.items()})
    try:
        assert sum(len(rs) for rs in late.poll(timeout_ms=5000).values()) == 2
    finally:
        late.close()


def test_committed_offsets_and_waiting_for_them(kafka_bootstrap, kafka_topics):
    topic = kafka_topics("offsets", 2)
    clients.produce(kafka_bootstrap, topic, [(f"k{i}".encode(), b"v") for i in range(10)])
    group = f"g-{topic}"
    assert clients.committed(kafka_bootstrap, group) == {}
    assert not clients.wait_committed(kafka_bootstrap, group, topic, timeout=1)

    ends = clients.end_offsets(kafka_bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in ends.items()})
    finally:
        consumer.close()
    assert clients.committed(kafka_bootstrap, group) == ends
    assert clients.wait_committed(kafka_bootstrap, group, topic, timeout=10)


def test_broker_ready_tells_a_broker_from_a_closed_port(kafka_bootstrap: str):
    assert clients.broker_ready(kafka_bootstrap)
    assert not clients.broker_ready("127.0.0.1:1")
