"""Offsets reporter: snapshots from query progress, and commits with backoff (with an injected clock)."""

import pytest
from kafka import KafkaAdminClient, TopicPartition

from app.workers.offsets import OffsetsCommitter, OffsetsSnapshot, kafka_commit, snapshot_from_progress

PROGRESS = {
    "batchId": 7,
    "sources": [
        {
            "description": "KafkaV2[Subscribe[input]]",
            "startOffset": {"input": {"0": 5, "1": 2}},
            "endOffset": {"input": {"0": 10, "1": 4}},
        }
    ],
}


def test_snapshot_takes_the_end_offsets():
    assert snapshot_from_progress(PROGRESS) == OffsetsSnapshot(7, {("input", 0): 10, ("input", 1): 4})


def test_snapshot_accepts_json_strings_and_ignores_sources_without_offsets():
    progress = {"batchId": 1, "sources": [{"endOffset": '{"t": {"3": 9}}'}, {"endOffset": None}]}
    assert snapshot_from_progress(progress) == OffsetsSnapshot(1, {("t", 3): 9})
    assert snapshot_from_progress({"batchId": 0, "sources": []}) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_commits_the_newest_snapshot_once():
    commits = []
    committer = OffsetsCommitter("g", lambda g, s: commits.append((g, s.batch_id)), interval=1.0)
    committer.offer(OffsetsSnapshot(2, {("t", 0): 20}))
    committer.offer(OffsetsSnapshot(1, {("t", 0): 10}))  # an older batch never overwrites a newer one
    committer.step()
    committer.step()
    assert commits == [("g", 2)]


def test_failures_back_off_then_resume():
    clock, attempts = Clock(), []

    def flaky(group, snapshot):
        attempts.append(clock.now)
        if len(attempts) <= 2:
            raise OSError("broker down")

    failures = []
    committer = OffsetsCommitter("g", flaky, interval=1.0, clock=clock, on_failure=lambda: failures.append(1))
    committer.offer(OffsetsSnapshot(1, {("t", 0): 1}))
    with pytest.raises(OSError):
        committer.step()  # t=0 fails; next attempt at t=2
    clock.now = 1.0
    committer.step()  # still backing off: no attempt
    clock.now = 2.0
    with pytest.raises(OSError):
        committer.step()  # fails again; next at t=2+4
    clock.now = 6.0
    committer.step()
    assert attempts == [0.0, 2.0, 6.0] and len(failures) == 2 and committer.committed.batch_id == 1


def test_kafka_commit_is_visible_to_the_group(kafka_bootstrap, kafka_topics):
    topic = kafka_topics("offsets", partitions=2)
    group = f"group-{topic}"
    commit = kafka_commit({"bootstrap_servers": [kafka_bootstrap]})
    commit(group, OffsetsSnapshot(3, {(topic, 0): 0, (topic, 1): 0}))
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        committed = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    assert {tp: om.offset for tp, om in committed.items()} == {TopicPartition(topic, 0): 0, TopicPartition(topic, 1): 0}
