"""Kafka's conventions on the real broker: headers and named fields through to the result, dead letters that are
the original record, several input topics (a list or a pattern), and a first start from a point in time."""

import json
import time
import uuid

from kafka import KafkaProducer

from app.kafka.replay import main as replay_main
from app.spark.backfill import run_backfill
from app.spark.pipeline import build_query
from deploy.local.stack.clients import committed, wait_committed
from test.helpers.jobs import Job, job_env
from test.helpers.streams import RECORDS, outputs, run_to_end, stream_settings


def send(bootstrap: str, topic: str, records: list[tuple]) -> None:
    """(key, value, headers, timestamp_ms or None) records, acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value, headers, stamp in records:
            producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=stamp).get(timeout=30)
    finally:
        producer.close()


def doc(uid: str, **extra) -> bytes:
    return json.dumps({"uuid": uid, "text": "Barack Obama visited Paris.", "lang": "en", **extra}).encode()


def test_headers_and_passthrough_fields_reach_the_result(spark, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input"), kafka_topics("result"), kafka_topics("dead"))
    headers = [("trace-id", b"t-123"), ("tenant", b"acme"), ("empty", b"")]
    send(
        kafka_bootstrap,
        topics[0],
        [
            (b"k1", doc("h-1", tenant="acme", trace_id=7, nested={"a": [1]}), headers, None),
            (b"k2", doc("h-2"), [], None),
        ],
    )
    settings = stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt", PASSTHROUGH_FIELDS="tenant,trace_id,nested")
    run_to_end(spark, settings)
    results = {r["value"]["uuid"]: r for r in outputs(kafka_bootstrap, topics[1], expected=2)}
    first = results["h-1"]
    assert first["headers"] == headers
    assert first["value"]["passthrough"] == {"tenant": "acme", "trace_id": "7", "nested": '{"a": [1]}'}
    assert first["key"] == f"{topics[0]}/0/0".encode()
    assert results["h-2"]["headers"] == [] and results["h-2"]["value"]["passthrough"] == {}


def test_only_the_allowed_headers_pass_and_the_result_key_can_be_the_input_key(
    spark, kafka_bootstrap, kafka_topics, tmp_path
):
    topics = (kafka_topics("input"), kafka_topics("result"), kafka_topics("dead"))
    send(kafka_bootstrap, topics[0], [(b"in-key", doc("a-1"), [("trace-id", b"t"), ("secret", b"s")], None)])
    settings = stream_settings(
        kafka_bootstrap, topics, tmp_path / "ckpt", PASSTHROUGH_HEADERS="trace-id", RESULT_KEY="input-key"
    )
    run_to_end(spark, settings)
    (result,) = outputs(kafka_bootstrap, topics[1], expected=1)
    assert result["headers"] == [("trace-id", b"t")] and result["key"] == b"in-key"


def test_a_dead_letter_is_the_original_record_with_context_headers(spark, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input"), kafka_topics("result"), kafka_topics("dead"))
    original = [("trace-id", b"t-9"), ("bin", b"\x00\xff")]
    send(kafka_bootstrap, topics[0], [(b"\xffkey", b'{"uuid": "x", "text": ', original, 1_700_000_000_000)])
    run_to_end(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt"))
    (letter,) = outputs(kafka_bootstrap, topics[2], expected=1)
    assert (letter["key"], letter["original"]) == (b"\xffkey", b'{"uuid": "x", "text": ')
    assert letter["headers"][:2] == original  # the input's headers first, byte for byte
    context = letter["value"]
    assert context["reason"] == "invalid_json" and context["timestamp"] == "1700000000000"
    assert context["source"] == {"topic": topics[0], "partition": 0, "offset": 0} and context["version"]


def test_two_input_topics_are_both_served(spark, kafka_bootstrap, kafka_topics, tmp_path):
    first, second = kafka_topics("input-a"), kafka_topics("input-b")
    out = (kafka_topics("result"), kafka_topics("dead"))
    send(kafka_bootstrap, first, [(None, doc(f"a-{i}"), [], None) for i in range(3)])
    send(kafka_bootstrap, second, [(None, doc(f"b-{i}"), [], None) for i in range(2)] + [(None, b"{", [], None)])
    run_to_end(spark, stream_settings(kafka_bootstrap, (f"{first},{second}", *out), tmp_path / "ckpt"))
    results = outputs(kafka_bootstrap, out[0], expected=5)
    assert sorted(r["value"]["uuid"] for r in results) == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    assert {r["value"]["source"]["topic"] for r in results} == {first, second}
    (letter,) = outputs(kafka_bootstrap, out[1], expected=1)
    assert letter["value"]["source"]["topic"] == second


def test_a_topic_pattern_reads_every_matching_topic(spark, kafka_bootstrap, kafka_topics, tmp_path):
    tag = uuid.uuid4().hex[:8]
    first, second = kafka_topics(f"pat-{tag}-a"), kafka_topics(f"pat-{tag}-b")
    kafka_topics(f"other-{tag}")  # does not match: never read
    out = (kafka_topics("result"), kafka_topics("dead"))
    send(kafka_bootstrap, first, [(None, doc("p-a"), [], None)])
    send(kafka_bootstrap, second, [(None, doc("p-b"), [], None)])
    settings = stream_settings(
        kafka_bootstrap, ("unused", *out), tmp_path / "ckpt", INPUT_TOPIC_PATTERN=f"pat-{tag}-.*"
    )
    run_to_end(spark, settings)
    results = outputs(kafka_bootstrap, out[0], expected=2)
    assert sorted(r["value"]["uuid"] for r in results) == ["p-a", "p-b"]


def test_a_timestamp_start_skips_the_older_records_and_a_restart_keeps_the_checkpoint(
    spark, kafka_bootstrap, kafka_topics, tmp_path
):
    topics = (kafka_topics("input", 2), kafka_topics("result"), kafka_topics("dead"))
    start = int(time.time() * 1000) - 3_600_000  # an hour ago
    old = [(None, doc(f"old-{i}"), [], start - 60_000 * (i + 1)) for i in range(4)]
    new = [(None, doc(f"new-{i}"), [], start + 60_000 * (i + 1)) for i in range(3)]
    send(kafka_bootstrap, topics[0], old + new)
    settings = stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt", STARTING_TIMESTAMP=str(start))
    run_to_end(spark, settings)
    assert sorted(r["value"]["uuid"] for r in outputs(kafka_bootstrap, topics[1], expected=3)) == [
        "new-0",
        "new-1",
        "new-2",
    ]
    # A later, older-stamped record is read on restart: the checkpoint wins over the start time.
    send(kafka_bootstrap, topics[0], [(None, doc("late"), [], start - 86_400_000)])
    query = build_query(spark, settings, 2, RECORDS).start()
    assert query.awaitTermination(300)
    assert sorted(r["value"]["uuid"] for r in outputs(kafka_bootstrap, topics[1], expected=4))[-1] == "new-2"
    assert "late" in {r["value"]["uuid"] for r in outputs(kafka_bootstrap, topics[1], expected=4)}


def test_a_replayed_dead_letter_gives_the_same_result_as_the_original(spark, kafka_bootstrap, kafka_topics, tmp_path):
    """A text over the limit becomes a dead letter; after the fix (a higher limit) `replay` re-sends it and its
    result is the one the message gets when it is fine from the start."""
    topics = (kafka_topics("input"), kafka_topics("result"), kafka_topics("dead"))
    control = kafka_topics("control")
    message = doc("r-1", tenant="acme")
    headers = [("trace-id", b"t-1")]
    send(kafka_bootstrap, topics[0], [(b"k", message, headers, None)])
    send(kafka_bootstrap, control, [(b"k", message, headers, None)])
    env = {"PASSTHROUGH_FIELDS": "tenant", "MAX_TEXT_LENGTH": "10"}
    run_to_end(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt", **env))
    (letter,) = outputs(kafka_bootstrap, topics[2], expected=1)
    assert letter["value"]["reason"] == "text_too_long"

    env = {**env, "MAX_TEXT_LENGTH": "1000", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    assert replay_main(["--from", topics[2], "--reason", "text_too_long"], env) == 0
    fixed = stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt", **env)
    run_to_end(spark, fixed)
    run_to_end(spark, stream_settings(kafka_bootstrap, (control, *topics[1:]), tmp_path / "control", **env))
    results = outputs(kafka_bootstrap, topics[1], expected=2)
    replayed, direct = sorted(results, key=lambda r: r["value"]["source"]["topic"] != topics[0])
    same = ("uuid", "lang", "entities", "model", "passthrough")
    assert {k: replayed["value"][k] for k in same} == {k: direct["value"][k] for k in same}
    assert replayed["headers"] == [*headers, ("__ner.replay.count", b"1")] and direct["headers"] == headers
    assert replayed["value"]["source"]["offset"] == 1  # re-produced after the original


def test_the_job_commits_its_consumer_group_on_every_input_topic(kafka_bootstrap, kafka_topics, tmp_path):
    """Burrow reads lag from the group's commits: with two input topics, both are committed to their end."""
    first, second = kafka_topics("input-a", 2), kafka_topics("input-b")
    out = (kafka_topics("result"), kafka_topics("dead"))
    send(kafka_bootstrap, first, [(None, doc(f"a-{i}"), [], None) for i in range(4)])
    send(kafka_bootstrap, second, [(None, doc("b-0"), [], None)])
    env = job_env(
        kafka_bootstrap,
        (f"{first},{second}", *out),
        tmp_path / "ckpt",
        TRIGGER_INTERVAL="available-now",
        KAFKA_CONSUMER_GROUP=f"g-{first}",
    )
    job = Job(env, tmp_path / "job.log")
    try:
        assert job.proc.wait(timeout=600) == 0, job.log()
    finally:
        job.cleanup()
    group = env["KAFKA_CONSUMER_GROUP"]
    assert all(wait_committed(kafka_bootstrap, group, topic, timeout=30) for topic in (first, second))
    assert {topic for topic, _ in committed(kafka_bootstrap, group)} == {first, second}
    assert len(outputs(kafka_bootstrap, out[0], expected=5)) == 5


def test_a_backfill_annotates_exactly_the_records_of_its_time_range(spark, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input", 2), kafka_topics("result"), kafka_topics("dead"))
    since = int(time.time() * 1000) - 7_200_000
    until = since + 3_600_000
    stamps = {"before": since - 1, "at-since": since, "inside": since + 60_000, "bad": since + 120_000}
    stamps |= {"at-until": until, "after": until + 60_000}
    send(
        kafka_bootstrap,
        topics[0],
        [(None, b"{" if name == "bad" else doc(name), [], stamp) for name, stamp in stamps.items()],
    )
    summary = run_backfill(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "unused"), RECORDS, since, until)
    assert (summary.rows_in, summary.results_out, summary.dead_letters) == (3, 2, {"invalid_json": 1})
    results = outputs(kafka_bootstrap, topics[1], expected=2)
    assert sorted(r["value"]["uuid"] for r in results) == ["at-since", "inside"]
    (letter,) = outputs(kafka_bootstrap, topics[2], expected=1)
    assert letter["original"] == b"{"
    # To the end of the topics when no end is given.
    summary = run_backfill(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "unused"), RECORDS, until, None)
    assert summary.results_out == 2
