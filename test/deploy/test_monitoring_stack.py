"""The real local monitoring stack: Burrow's lag from committed offsets, a push reaching Prometheus, rules loaded."""

import json
import re
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, Counter, delete_from_gateway, push_to_gateway

from test.fixtures.kafka import produce
from test.fixtures.monitoring import (
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
    assert {"NerConsumerLagGrowing", "NerDeadLetterRateHigh", "NerNoBatchProgress", "NerJobDown"} <= alerts


def test_every_dashboard_query_is_valid_promql(monitoring_stack: MonitoringStack):
    panels = json.loads(DASHBOARD.read_text())["panels"]
    for expr in (target["expr"] for panel in panels for target in panel["targets"]):
        # Grafana fills these in before it queries; prom_query fails on a parse error.
        query = re.sub(r"\$__rate_interval", "1m", expr).replace("$job", ".*").replace("$instance", ".*")
        prom_query(monitoring_stack.prometheus_url, query)
