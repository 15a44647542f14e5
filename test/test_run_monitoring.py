"""Operability end to end with the real tools: lag in Burrow drains to 0, the job's counters in Prometheus."""

import json
import signal

from deploy.local.stack.clients import produce
from test.fixtures.monitoring import burrow_lag, burrow_topic_offsets, eventually, prom_query
from test.helpers.jobs import job_env, start_job

N_DOCS = 1200
N_BAD = 7


def _value(result: list) -> float:
    return float(result[0]["value"][1]) if result else -1.0


def test_lag_in_burrow_and_metrics_in_prometheus(monitoring_stack, corpus, kafka_bootstrap, kafka_topics, tmp_path):
    stack = monitoring_stack
    # Two input topics: the documents on one, the bad messages on the other.
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    second = kafka_topics("input-b", 1)
    group, job = f"g-{topics[0]}", f"ner-test-{topics[0][-12:]}"
    records = [(d["uuid"].encode(), json.dumps(d).encode()) for d in corpus[:N_DOCS]]
    produce(kafka_bootstrap, topics[0], records)  # a backlog before the job starts
    produce(kafka_bootstrap, second, [(b"bad", b"{not json")] * N_BAD)
    records += [(b"bad", b"{not json")] * N_BAD
    for topic, count in ((topics[0], N_DOCS), (second, N_BAD)):
        eventually(
            lambda topic=topic: burrow_topic_offsets(stack.burrow_url, stack.cluster, topic),
            lambda offsets, count=count: sum(offsets) == count,
            60,
            f"Burrow sees the backlog of {topic}",
        )

    env = job_env(
        kafka_bootstrap,
        (f"{topics[0]},{second}", *topics[1:]),
        tmp_path / "ckpt",
        KAFKA_CONSUMER_GROUP=group,
        MAX_OFFSETS_PER_TRIGGER="100",
        PUSHGATEWAY_URL=stack.pushgateway_url,
        METRICS_JOB=job,
        METRICS_PUSH_INTERVAL_SECONDS="1",
        LOG_FORMAT="json",
    )
    proc = start_job(env, tmp_path / "job.log")
    try:
        lagging = eventually(
            lambda: burrow_lag(stack.burrow_url, stack.cluster, group),
            lambda s: s.get("totallag", 0) > 0,
            300,
            "Burrow shows lag for the group",
        )
        assert lagging["totallag"] < len(records)
        drained = eventually(
            lambda: burrow_lag(stack.burrow_url, stack.cluster, group),
            lambda s: s.get("totallag") == 0 and s.get("status") == "OK",
            300,
            "lag drains to 0 with status OK",
        )
        assert drained["status"] == "OK"
        # Burrow sees the group on every input topic.
        assert {p["topic"] for p in drained["partitions"]} == {topics[0], second}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, (tmp_path / "job.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()

    # The driver's own lines are JSON objects (Spark's JVM keeps its log4j lines); once the query runs they carry
    # its run id and batch id.
    app_lines = [
        json.loads(line) for line in (tmp_path / "job.log").read_text().splitlines() if line.startswith('{"time"')
    ]
    assert {"time", "level", "logger", "message"} <= app_lines[0].keys()
    assert any(line["logger"] == "app.run" for line in app_lines)
    assert any("run_id" in line and "batch_id" in line for line in app_lines)

    # After the final push, Prometheus scrapes the Pushgateway: counters equal what the job processed.
    url, sel = stack.prometheus_url, f'job="{job}",instance="driver"'
    eventually(
        lambda: _value(prom_query(url, f"sum(ner_messages_in_total{{{sel}}})")),
        lambda v: v == len(records),
        60,
        "messages in",
    )
    assert _value(prom_query(url, f"sum(ner_results_out_total{{{sel}}})")) == N_DOCS
    for topic, count in ((topics[0], N_DOCS), (second, N_BAD)):  # where the job got to, per input topic
        assert _value(prom_query(url, f'ner_topic_offsets_processed{{{sel},topic="{topic}"}}')) == count
        assert _value(prom_query(url, f'ner_topic_offsets_behind{{{sel},topic="{topic}"}}')) == 0
    assert _value(prom_query(url, f'sum(ner_dead_letters_total{{{sel},reason="invalid_json"}})')) == N_BAD
    assert _value(prom_query(url, f"sum(ner_dead_letters_total{{{sel}}})")) == N_BAD
    assert _value(prom_query(url, f"sum(ner_entities_total{{{sel}}})")) > N_DOCS
    assert _value(prom_query(url, f"ner_offset_commits_total{{{sel}}}")) >= 1
    assert _value(prom_query(url, f'ner_inference_batch_seconds_count{{{sel},lang="en"}}')) >= 1
    assert _value(prom_query(url, f"sum(ner_end_to_end_latency_seconds_count{{{sel}}})")) >= N_DOCS
    assert _value(prom_query(url, f"sum(ner_message_inference_seconds_count{{{sel}}})")) >= N_DOCS
    # A stop on purpose says so in its last push; the group Burrow's alerts join on is the job's.
    assert _value(prom_query(url, f"ner_running{{{sel}}}")) == 0
    assert _value(prom_query(url, f'ner_consumer_group_info{{{sel},consumer_group="{group}"}}')) == 1
    spark_series = prom_query(url, f'count({{{sel},__name__=~"metrics_ner_driver_.*"}})')
    assert _value(spark_series) > 0, "Spark's own driver metrics reached Prometheus"
