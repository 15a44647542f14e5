"""A jammed job seen from outside: the real job gets a burst of input twice. Running, it works it off and nothing
alerts; frozen (SIGSTOP of its process tree), Burrow rates its group ERR (partition STOP), Prometheus scrapes that from
Burrow and NerConsumerGroupStuck fires for the job's group (known from the job's pushed ner_consumer_group_info), and
NerJobDown fires as its pushes stop: it pages. Thawed, the job catches up and the alerts clear. The rules are the
shipped ones at a tenth of their durations (test/fixtures/monitoring.py)."""

import json
import signal
import subprocess
import time
from collections.abc import Callable

import psutil
import pytest

from deploy.local.stack.clients import produce
from test.fixtures.monitoring import (
    BURROW_STATUS,
    active_alerts,
    burrow_lag,
    burrow_topic_offsets,
    eventually,
    get_json,
    prom_query,
)
from test.helpers.freezing import freeze, thaw
from test.helpers.jobs import job_env, start_job

pytestmark = [pytest.mark.integration, pytest.mark.monitoring, pytest.mark.slow, pytest.mark.timeout(600)]

ALERT = "NerConsumerGroupStuck"
# About 10 batches of backlog fill Burrow's 10-commit window; the burst is what the running, then frozen, job gets.
N_BACKLOG, BATCH, N_TRICKLE, N_BURST = 200, 20, 10, 40


def alert_states(prometheus_url: str, group: str) -> list[dict]:
    alerts = get_json(f"{prometheus_url}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"].get("alertname") == ALERT and a["labels"].get("consumer_group") == group]


def docs(corpus: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(d["uuid"].encode(), json.dumps(d).encode()) for d in corpus]


def caught_up(expected: int) -> Callable[[dict], bool]:
    """Burrow's view of the group: `expected` messages committed over the partitions, no lag, OK."""

    def done(status: dict) -> bool:
        committed = sum(p["end"]["offset"] for p in status.get("partitions") or [] if p["end"])
        return committed == expected and status["totallag"] == 0 and status["status"] == "OK"

    return done


def test_burrow_rates_a_frozen_job_err_and_the_alert_goes_pending(
    monitoring_stack, corpus, kafka_bootstrap, kafka_topics, tmp_path
):
    stack, prom = monitoring_stack, monitoring_stack.prometheus_url
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    group = f"g-{topics[0]}"
    lag = lambda: burrow_lag(stack.burrow_url, stack.cluster, group)  # noqa: E731
    # Burrow learns a topic at a topic refresh and drops commits for partitions it does not know yet.
    produce(kafka_bootstrap, topics[0], docs(corpus[:N_BACKLOG]))
    eventually(
        lambda: burrow_topic_offsets(stack.burrow_url, stack.cluster, topics[0]),
        lambda offsets: sum(offsets) == N_BACKLOG,
        60,
        "Burrow sees the input topic",
    )
    # The job pushes its consumer group (the Burrow alerts' scope) and ner_running; its lag comes from Burrow.
    metrics_job = f"ner-jam-{topics[0][-12:]}"
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        MAX_OFFSETS_PER_TRIGGER=str(BATCH),
        PUSHGATEWAY_URL=stack.pushgateway_url,
        METRICS_JOB=metrics_job,
        METRICS_PUSH_INTERVAL_SECONDS="1",
    )
    proc = start_job(env, tmp_path / "job.log")
    frozen: list[psutil.Process] = []
    try:
        # Warm-up: drained, OK, and a full Burrow window of commits on both partitions; trickle until then.
        sent = N_BACKLOG
        eventually(lag, caught_up(sent), 300, "the job drains the backlog")
        while not all(p["complete"] == 1 for p in lag()["partitions"]):
            assert sent < N_BACKLOG + 10 * N_TRICKLE, f"no full window after {sent} messages: {lag()}"
            produce(kafka_bootstrap, topics[0], docs(corpus[sent : sent + N_TRICKLE]))
            sent += N_TRICKLE
            eventually(lag, caught_up(sent), 120, f"the job catches up to {sent}")
        eventually(
            lambda: prom_query(prom, f'burrow_kafka_consumer_status{{consumer_group="{group}"}}'),
            lambda r: [x["value"][1] for x in r] == ["1"],
            30,
            "Prometheus sees the group OK",
        )

        # Control: the same burst while the job runs. It commits within Burrow's grace: never ERR, no alert.
        seen: list[tuple[str, int]] = []

        def observe() -> dict:
            status = lag()
            seen.append((status.get("status", "?"), len(alert_states(prom, group))))
            return status

        produce(kafka_bootstrap, topics[0], docs(corpus[sent : sent + N_BURST]))
        sent += N_BURST
        eventually(observe, caught_up(sent), 120, "the running job works off the burst")
        time.sleep(2)  # a couple more scrapes and rule evaluations
        observe()
        assert all(status != "ERR" and alerts == 0 for status, alerts in seen), seen

        # The jam: freeze the job's whole process tree, then the same burst again.
        frozen = freeze(psutil.Process(proc.pid))
        jammed_at = time.monotonic()
        assert len(frozen) >= 2, "the driver and its Spark JVM at least"
        produce(kafka_bootstrap, topics[0], docs(corpus[sent : sent + N_BURST]))

        rated = eventually(lag, lambda s: s.get("status") == "ERR", 120, "Burrow rates the frozen job's group ERR")
        err_after = time.monotonic() - jammed_at
        assert rated["totallag"] == N_BURST
        assert "STOP" in {p["status"] for p in rated["partitions"] if p["current_lag"] > 0}, rated

        sel = f'consumer_group="{group}",job="burrow"'
        eventually(
            lambda: prom_query(prom, f"burrow_kafka_consumer_status{{{sel}}}"),
            lambda r: [x["value"][1] for x in r] == [str(BURROW_STATUS.index("ERR"))],
            30,
            "Prometheus scrapes ERR from Burrow",
        )
        partitions = prom_query(prom, f'burrow_kafka_topic_partition_status{{{sel},topic="{topics[0]}"}}')
        assert str(BURROW_STATUS.index("STOP")) in {x["value"][1] for x in partitions}, partitions
        firing = lambda a: [x["state"] for x in a] == ["firing"]  # noqa: E731
        (alert,) = eventually(lambda: alert_states(prom, group), firing, 90, f"{ALERT} fires for {group}")
        alert_after = time.monotonic() - jammed_at
        assert float(alert["value"]) == N_BURST  # the group's total lag
        assert alert["labels"]["severity"] == "critical"
        (down,) = eventually(
            lambda: active_alerts(prom, alertname="NerJobDown", job=metrics_job), firing, 60, "NerJobDown fires"
        )
        assert down["labels"]["severity"] == "critical"
        print(f"\nBurrow ERR {err_after:.1f}s, {ALERT} firing {alert_after:.1f}s after the freeze")

        # Thawed, the job works off the burst, commits, and the alert clears.
        thaw(frozen)
        frozen = []
        eventually(lag, caught_up(sent + N_BURST), 180, "the thawed job catches up")
        eventually(lambda: alert_states(prom, group), lambda a: a == [], 60, f"{ALERT} clears")
        eventually(lambda: active_alerts(prom, alertname="NerJobDown", job=metrics_job), lambda a: a == [], 60, "down")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, (tmp_path / "job.log").read_text()[-3000:]
    finally:
        thaw(frozen)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
