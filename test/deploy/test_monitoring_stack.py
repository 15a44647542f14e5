"""The real local monitoring stack: Burrow's lag from committed offsets, Burrow's metrics and a push reaching
Prometheus, rules loaded."""

import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, delete_from_gateway, push_to_gateway

from deploy.local.stack.clients import produce
from test.fixtures.monitoring import (
    BURROW_METRIC_NAMES,
    TEST_STACK_ENV,
    MonitoringStack,
    burrow_lag,
    burrow_topic_offsets,
    eventually,
    get_json,
    prom_query,
)

pytestmark = [pytest.mark.integration, pytest.mark.monitoring, pytest.mark.timeout(180)]

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "grafana-dashboard.json"


def _commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    # assign + commit, never subscribe: no group membership, only the offset lands in __consumer_offsets.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close()


def test_burrow_reports_the_lag_of_committed_offsets(monitoring_stack: MonitoringStack, kafka_bootstrap, kafka_topics):
    topic, group = kafka_topics("burrow-lag"), f"test-burrow-{uuid.uuid4().hex[:12]}"
    url, cluster = monitoring_stack.burrow_url, monitoring_stack.cluster
    produce(kafka_bootstrap, topic, [(None, f"message {i}".encode()) for i in range(50)])
    # Burrow drops a commit for a partition it does not know yet: wait until it has fetched the topic's end offset.
    eventually(lambda: burrow_topic_offsets(url, cluster, topic), lambda o: o == [50], 30, f"Burrow sees {topic}")
    tp = TopicPartition(topic, 0)

    _commit(kafka_bootstrap, group, tp, 10)
    behind = eventually(lambda: burrow_lag(url, cluster, group), lambda s: s.get("totallag") == 40, 30, "lag 40")
    assert behind["partitions"][0]["end"]["offset"] == 10

    _commit(kafka_bootstrap, group, tp, 50)
    eventually(
        lambda: burrow_lag(url, cluster, group),
        lambda s: s.get("totallag") == 0 and s.get("status") == "OK",
        30,
        "lag 0 and status OK",
    )


def test_burrow_exports_its_metrics_and_prometheus_scrapes_them(
    monitoring_stack: MonitoringStack, kafka_bootstrap, kafka_topics
):
    topic, group = kafka_topics("burrow-metrics"), f"test-burrow-{uuid.uuid4().hex[:12]}"
    url, cluster = monitoring_stack.burrow_url, monitoring_stack.cluster
    produce(kafka_bootstrap, topic, [(None, f"message {i}".encode()) for i in range(30)])
    eventually(lambda: burrow_topic_offsets(url, cluster, topic), lambda o: o == [30], 30, f"Burrow sees {topic}")
    # A full window (BURROW_INTERVALS commits, over a second apart: Burrow's min-distance folds closer ones), so the
    # per-partition status and current offset are exported too. The last one catches up: lag 0 stays OK for good.
    intervals = int(TEST_STACK_ENV["BURROW_INTERVALS"])
    for offset in range(30 // intervals, 31, 30 // intervals):
        _commit(kafka_bootstrap, group, TopicPartition(topic, 0), offset)
        time.sleep(1.1)
    eventually(
        lambda: burrow_lag(url, cluster, group),
        lambda s: s.get("complete") == 1 and s["totallag"] == 0,
        30,
        "a full window, caught up",
    )

    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        exposition = response.read().decode()
    exported = set(re.findall(r"^(burrow_\w+)[{ ]", exposition, re.MULTILINE))
    assert exported == set(BURROW_METRIC_NAMES)
    sel = f'cluster="{cluster}",consumer_group="{group}"'
    assert f'burrow_kafka_topic_partition_status{{{sel},partition="0",topic="{topic}"}} 1' in exposition

    # Prometheus scrapes them as job burrow with Burrow's labels: the group's status (1 = OK), offsets and lag.
    prom = monitoring_stack.prometheus_url
    partition = f'job="burrow",{sel},topic="{topic}",partition="0"'
    # The per-partition offset appears with the full window; an earlier scrape may hold the group's status only.
    current_offset = f"burrow_kafka_consumer_current_offset{{{partition}}}"
    eventually(
        lambda: [r["value"][1] for r in prom_query(prom, current_offset)],
        lambda values: values == ["30"],
        30,
        "the committed offset in Prometheus",
    )
    status = prom_query(prom, f'burrow_kafka_consumer_status{{job="burrow",{sel}}}')
    assert [r["value"][1] for r in status] == ["1"]
    assert [r["value"][1] for r in prom_query(prom, f"burrow_kafka_consumer_partition_lag{{{partition}}}")] == ["0"]
    end = prom_query(prom, f'burrow_kafka_topic_partition_offset{{job="burrow",cluster="{cluster}",topic="{topic}"}}')
    assert [r["value"][1] for r in end] == ["30"]
    assert prom_query(prom, 'up{job="burrow"}')[0]["value"][1] == "1"


def test_a_pushed_metric_reaches_prometheus_with_its_grouping_labels(monitoring_stack: MonitoringStack):
    job, instance = f"test-push-{uuid.uuid4().hex[:12]}", "pytest"
    registry = CollectorRegistry()
    Counter("ner_messages_in", "test push", registry=registry).inc(42)
    push_to_gateway(monitoring_stack.pushgateway_url, job=job, registry=registry, grouping_key={"instance": instance})
    try:
        result = eventually(
            lambda: prom_query(monitoring_stack.prometheus_url, f'ner_messages_in_total{{job="{job}"}}'),
            lambda r: len(r) == 1,
            30,
            "the pushed counter in Prometheus",
        )
        # honor_labels: the pushed job/instance survive the scrape (not exported_job, not the Pushgateway's address).
        assert result[0]["metric"]["instance"] == instance
        assert float(result[0]["value"][1]) == 42
    finally:
        delete_from_gateway(monitoring_stack.pushgateway_url, job=job, grouping_key={"instance": instance})


def test_prometheus_loaded_the_alert_rules(monitoring_stack: MonitoringStack):
    groups = get_json(f"{monitoring_stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    alerts = {rule["name"] for group in groups for rule in group["rules"]}
    assert {
        "NerConsumerGroupStuck",
        "NerConsumerLagGrowing",
        "NerBurrowDown",
        "NerDeadLetterRateHigh",
        "NerNoBatchProgress",
        "NerJobDown",
        "NerMessagesQuarantined",
        "NerInferenceFailing",
    } <= alerts


def test_every_dashboard_query_is_valid_promql(monitoring_stack: MonitoringStack):
    panels = json.loads(DASHBOARD.read_text())["panels"]
    for expr in (target["expr"] for panel in panels for target in panel["targets"]):
        # Grafana fills these in before it queries; prom_query fails on a parse error.
        query = re.sub(r"\$\w+", ".*", re.sub(r"\$__rate_interval", "1m", expr))
        prom_query(monitoring_stack.prometheus_url, query)
