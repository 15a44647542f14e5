"""The local broker of deploy/local/kafka: keyed records round-trip through a multi-partition topic."""

from collections.abc import Callable

from deploy.local.stack.clients import consume_all, produce


def test_records_round_trip_through_three_partitions(kafka_bootstrap: str, kafka_topics: Callable[..., str]) -> None:
    topic = kafka_topics("local-kafka", partitions=3)
    sent = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(100)]

    produce(kafka_bootstrap, topic, sent)
    received = consume_all(kafka_bootstrap, topic, expected_count=100, timeout=30)

    assert len(received) == 100
    assert sorted((r.key, r.value) for r in received) == sorted(sent)
    assert {r.partition for r in received} == {0, 1, 2}  # 100 keys hash onto every partition
    for partition in range(3):  # each partition keeps the order it was written in
        values = [int(r.value.split(b"-")[1]) for r in received if r.partition == partition]
        assert values == sorted(values)
