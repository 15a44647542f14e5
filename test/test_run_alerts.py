"""Alerts and dashboard on the real stack, one run of the real job with the shipped alerts.yml at a tenth of its
durations (test/fixtures/monitoring.py): a steady input, served (the end-to-end p99 from the histogram against the
results' own); then quiet for longer than every `for:`: nothing fires, and every dashboard panel's query returns
data; then the Python workers wedged under a backlog that cannot drain: NerNoBatchProgress pages while the driver
still pushes; thawed, caught up, stopped with SIGTERM: nothing pages."""

import json
import math
import time
from datetime import datetime
from pathlib import Path

import psutil
import pytest
import yaml

from app.contract import SECONDS_BUCKETS
from deploy.local.stack.clients import consume_all, produce
from test.fixtures.monitoring import (
    RULES_SCALE,
    active_alerts,
    alerts_between,
    burrow_lag,
    burrow_topic_offsets,
    eventually,
    prom_query,
    scaled_duration,
)
from test.helpers.freezing import freeze, thaw
from test.helpers.jobs import Job, job_env
from test.helpers.streams import Tail

pytestmark = [pytest.mark.integration, pytest.mark.monitoring, pytest.mark.slow, pytest.mark.timeout(900)]

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text())
RULES = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
# The longest `for:` of the scaled rules, in seconds; the quiet phase lasts longer.
LONGEST_FOR = max(int(scaled_duration(r.get("for", "0s"), RULES_SCALE)[:-1]) for r in RULES)
N_WARM, RATE, SECONDS, N_BURST = 20, 10, 30, 40  # warm-up; steady load: messages a second, for how long; the backlog
GLOBAL = '{alertname=~"NerBurrowDown|NerPushgatewayDown"}'


def docs(corpus: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(d["uuid"].encode(), json.dumps(d).encode()) for d in corpus]


def epoch(value: str | int | float) -> float:
    """A result's timestamp field as unix seconds (ISO text or epoch milliseconds)."""
    if isinstance(value, int | float):
        return value / 1000
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def p99(values: list[float]) -> float:
    """The nearest-rank 99th percentile."""
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def bucket_of(seconds: float) -> int:
    return next((i for i, bound in enumerate(SECONDS_BUCKETS) if seconds <= bound), len(SECONDS_BUCKETS))


def panel_queries(variables: dict[str, str]) -> list[tuple[str, str]]:
    """(panel title, query) for every target, with Grafana's variables replaced as Grafana would."""
    out = []
    for panel in DASHBOARD["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
                expr = expr.replace(f"${name}", value)
            assert "$" not in expr, expr
            out.append((panel["title"], expr))
    return out


def test_quiet_when_idle_and_after_a_clean_stop_pages_on_a_backlog_that_cannot_drain(
    monitoring_stack, corpus, kafka_bootstrap, kafka_topics, tmp_path
):
    stack, prom = monitoring_stack, monitoring_stack.prometheus_url
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    group, metrics_job = f"g-{topics[0]}", f"ner-alerts-{topics[0][-12:]}"
    mine = [f'{{job="{metrics_job}"}}', f'{{consumer_group="{group}"}}', GLOBAL]
    eventually(lambda: burrow_topic_offsets(stack.burrow_url, stack.cluster, topics[0]), lambda o: len(o) == 2, 60, "")
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        PUSHGATEWAY_URL=stack.pushgateway_url,
        METRICS_JOB=metrics_job,
        METRICS_PUSH_INTERVAL_SECONDS="1",
    )
    job, tail = Job(env, tmp_path / "job.log"), Tail(kafka_bootstrap, topics[1], topics[2])
    frozen: list[psutil.Process] = []
    sent = 0

    def served(n: int, what: str, timeout: float = 300) -> None:
        tail.wait_until(lambda: len(tail.results) + len(tail.dead_letters) >= n, timeout, what, still_ok=alive)

    def alive() -> None:
        assert job.running(), job.log()

    def caught_up() -> None:
        eventually(
            lambda: burrow_lag(stack.burrow_url, stack.cluster, group),
            lambda s: s.get("totallag") == 0 and sum(p["end"]["offset"] for p in s["partitions"] if p["end"]) == sent,
            120,
            f"Burrow: the group committed all {sent} and has no lag",
        )

    try:
        # Warm-up (Spark, the models), then a steady load: RATE messages a second for SECONDS seconds.
        produce(kafka_bootstrap, topics[0], docs(corpus[:N_WARM]))
        sent = N_WARM
        served(sent, "the warm-up is served")
        caught_up()
        sel = f'job="{metrics_job}",instance="driver"'
        eventually(  # the warm-up's latencies (Spark's start, the models' load) are in Prometheus before the load
            lambda: prom_query(prom, f"sum(ner_end_to_end_latency_seconds_count{{{sel}}})"),
            lambda r: [x["value"][1] for x in r] == [str(N_WARM)],
            30,
            "the warm-up's latencies in Prometheus",
        )
        load_start = time.time()
        steady = corpus[sent : sent + RATE * SECONDS]
        for i in range(SECONDS):
            produce(kafka_bootstrap, topics[0], docs(steady[i * RATE : (i + 1) * RATE]))
            time.sleep(max(0.0, load_start + i + 1 - time.time()))
        sent += len(steady)
        served(sent, "the steady load is served")
        caught_up()
        loaded_at = time.time()

        # The end-to-end p99 at this load point: Prometheus's histogram over the load against the results' own.
        window = math.floor(time.time() - load_start)  # back to a sample that holds the warm-up and none of the load
        buckets = f"ner_end_to_end_latency_seconds_bucket{{{sel}}}"
        over_load = f"sum by (le) ({buckets}) - sum by (le) ({buckets} offset {window}s)"
        (quantile,) = eventually(
            lambda: prom_query(prom, f"histogram_quantile(0.99, {over_load})"),
            lambda r: len(r) == 1 and r[0]["value"][1] != "NaN",
            30,
            "the latency histogram in Prometheus",
        )
        from_histogram = float(quantile["value"][1])
        steady_uuids = {d["uuid"] for d in steady}
        results = [r for r in consume_all(kafka_bootstrap, topics[1]) if json.loads(r.value)["uuid"] in steady_uuids]
        measured = [r.timestamp / 1000 - epoch(json.loads(r.value)["received_at"]) for r in results]
        stamped = [
            epoch(json.loads(r.value)["processed_at"]) - epoch(json.loads(r.value)["received_at"]) for r in results
        ]
        print(
            f"\nend-to-end p99 at {RATE} msg/s for {SECONDS}s ({len(results)} results): histogram_quantile "
            f"{from_histogram:.3f}s; results: result's Kafka timestamp - input's {p99(measured):.3f}s, "
            f"processed_at - received_at {p99(stamped):.3f}s"
        )
        assert len(results) == len(steady)
        assert abs(bucket_of(from_histogram) - bucket_of(p99(stamped))) <= 1, (from_histogram, p99(stamped))

        # Quiet input for longer than every `for:` of the rules: nothing pending, nothing firing, at any evaluation.
        time.sleep(LONGEST_FOR + 10)
        alive()
        quiet = alerts_between(prom, mine, loaded_at + 1, time.time())
        assert quiet == {}, f"alerts while the input was quiet: {quiet}"

        # Every panel's query returns data (a window that covers the load for the rates).
        variables = {
            "__rate_interval": f"{math.ceil(time.time() - load_start) + 10}s",
            "job": metrics_job,
            "instance": "driver",
            "cluster": stack.cluster,
            "consumer_group": group,
        }
        empty = []
        for title, expr in panel_queries(variables):
            values = [float(s["value"][1]) for s in prom_query(prom, expr)]
            if not any(math.isfinite(v) for v in values):
                empty.append((title, expr, values))
        assert not empty, "panels without data:\n" + "\n".join(map(str, empty))

        # A backlog that cannot drain: the Python workers wedged (SIGSTOP), the driver alive and pushing.
        workers = [psutil.Process(pid) for pid in job.python_workers()]
        assert workers, "no Python worker to wedge"
        frozen = freeze(*workers)
        wedged_at = time.time()
        produce(kafka_bootstrap, topics[0], docs(corpus[sent : sent + N_BURST]))
        sent += N_BURST
        (page,) = eventually(
            lambda: active_alerts(prom, alertname="NerNoBatchProgress", job=metrics_job),
            lambda a: [x["state"] for x in a] == ["firing"],
            180,
            "NerNoBatchProgress fires",
        )
        assert page["labels"]["severity"] == "critical" and page["labels"]["consumer_group"] == group
        assert float(page["value"]) == N_BURST
        assert active_alerts(prom, alertname="NerJobDown", job=metrics_job) == [], "the driver still pushes"
        print(f"NerNoBatchProgress firing {time.time() - wedged_at:.0f}s after the wedge")

        # Thawed, the job catches up and the pages clear; then a stop on purpose pages no one.
        thaw(frozen)
        frozen = []
        served(sent, "the thawed job serves the backlog")
        caught_up()
        eventually(
            lambda: [a for a in active_alerts(prom, severity="critical") if a["labels"].get("job") == metrics_job],
            lambda a: a == [],
            60,
            "the pages clear",
        )
        assert job.terminate() == 0, job.log()
        stopped_at = time.time()
        eventually(
            lambda: prom_query(prom, f"ner_running{{{sel}}}"),
            lambda r: [x["value"][1] for x in r] == ["0"],
            30,
            "the last push says ner_running 0",
        )
        longest_down = max(
            int(scaled_duration(r["for"], RULES_SCALE)[:-1]) + int(scaled_duration("2m", RULES_SCALE)[:-1])
            for r in RULES
            if r["alert"] == "NerJobDown"
        )
        time.sleep(longest_down + 10)
        critical = [selector[:-1] + ',severity="critical"}' for selector in mine]
        pages = alerts_between(prom, critical, stopped_at, time.time())
        assert pages == {}, f"pages after a clean stop: {pages}"
    finally:
        thaw(frozen)
        tail.close()
        job.cleanup()
