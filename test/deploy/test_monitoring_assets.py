"""The monitoring assets: alert rules pass promtool (syntax and unit tests) and each has its annotations and a runbook
section, the scaled copy the real-stack tests run is the shipped file with shorter windows, the rendered and the
production Prometheus configs are valid and scrape the same jobs, and the Grafana dashboard is well-formed, has the
panels on-call asks for and queries only metrics the job, Spark or Burrow exports."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from app.workers.metrics import METRIC_NAMES
from deploy.local.stack.monitoring import Monitoring
from test.fixtures.monitoring import (
    BURROW_METRIC_NAMES,
    BURROW_STATUS,
    RULES_SCALE,
    SPARK_METRIC_NAMES,
    scaled_duration,
    scaled_rules,
)

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text())
# Besides the job's own: Spark's (in the job's push), Burrow's, the Pushgateway's per-group push time and Prometheus's
# scrape health.
KNOWN_METRICS = (
    frozenset(METRIC_NAMES)
    | frozenset(SPARK_METRIC_NAMES)
    | frozenset(BURROW_METRIC_NAMES)
    | {"push_time_seconds", "up"}
)
RULES = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
RUNBOOK = REPO / "docs" / "runbook.md"
PRODUCTION_PROMETHEUS = MONITORING / "prometheus.yml"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_WORDS = frozenset(
    "by without on ignoring group_left group_right bool and or unless offset inf nan".split()
)  # the keywords; functions are the identifiers followed by "("


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found: run `make monitoring-tools`")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (Grafana's $variables allowed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values, regexes)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery durations
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\$\w+", "", expr)  # Grafana variables ($job, $__rate_interval)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if not call and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def base_name(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in KNOWN_METRICS:
            return name[: -len(suffix)]
    return name


def test_metric_names_parser_sees_through_promql():
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(ner_inference_batch_seconds_bucket{job=~"$job", le!="+Inf"}'
        "[$__rate_interval]))) / on (job) group_left ignoring(x) time() - push_time_seconds offset 5m"
    )
    assert metric_names(expr) == {"ner_inference_batch_seconds_bucket", "push_time_seconds"}


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", str(MONITORING / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests():
    result = promtool("test", "rules", str(MONITORING / "alerts.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_and_reads_known_metrics():
    rules = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    assert {r["alert"] for r in rules} == tested
    for rule in rules:
        unknown = {base_name(n) for n in metric_names(rule["expr"])} - KNOWN_METRICS
        assert not unknown, f"{rule['alert']} reads unknown metrics {unknown}"


def test_every_alert_says_what_it_is_and_where_its_runbook_section_is():
    anchors = {
        re.sub(r"[^\w-]", "", line[3:].strip().lower().replace(" ", "-"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in RULES:
        notes = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(notes), rule["alert"]
        assert "$value" in notes["description"], f"{rule['alert']}: the description does not give the value"
        anchor = rule["alert"].lower()
        assert notes["runbook_url"] == ('{{ or $externalLabels.runbook_base_url "." }}/docs/runbook.md#' + anchor), (
            rule["alert"]
        )
        assert anchor in anchors, f"docs/runbook.md has no section {rule['alert']}"
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_the_burrow_alerts_keep_this_jobs_group():
    for rule in RULES:
        if "burrow_kafka_consumer" in rule["expr"]:
            assert "on (consumer_group)" in rule["expr"] and "ner_consumer_group_info" in rule["expr"], rule["alert"]


def test_scaled_rules_are_the_shipped_ones_with_shorter_windows(tmp_path: Path):
    assert (
        scaled_duration("15m", 10) == "90s" and scaled_duration("2m", 10) == "12s" and scaled_duration("5s", 10) == "1s"
    )
    scaled = yaml.safe_load(scaled_rules((MONITORING / "alerts.yml").read_text(), RULES_SCALE))
    scaled_rule_list = [r for g in scaled["groups"] for r in g["rules"]]
    window = re.compile(r"\[(\w+)\]|offset\s+(\w+)")
    for shipped, short in zip(RULES, scaled_rule_list, strict=True):
        assert {k: v for k, v in shipped.items() if k not in {"for", "expr"}} == {
            k: v for k, v in short.items() if k not in {"for", "expr"}
        }
        assert short.get("for") == (scaled_duration(shipped["for"], RULES_SCALE) if "for" in shipped else None)
        durations = [a or b for a, b in window.findall(shipped["expr"])]
        assert [a or b for a, b in window.findall(short["expr"])] == [
            scaled_duration(d, RULES_SCALE) for d in durations
        ]
        assert window.sub("W", shipped["expr"]).split() == window.sub("W", short["expr"]).split()
        # No window hides in a number compared with time(): the scaled copy would keep it.
        assert not re.search(r"time\(\)[^\n]*[<>]=?\s*\d", shipped["expr"]), shipped["alert"]
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump(scaled))
    check = promtool("check", "rules", str(path))
    assert check.returncode == 0, check.stdout + check.stderr


def render_local_configs(state_dir: Path) -> Path:
    """The local stack's configs rendered into state_dir; returns the rendered prometheus.yml. Rendering runs
    `promtool check config` itself (which also checks the rule files) and fails if it does not pass."""
    env = {
        "MONITORING_STATE_DIR": str(state_dir),
        "PUSHGATEWAY_PORT": "29191",
        "BURROW_PORT": "28111",
        "KAFKA_BOOTSTRAP_SERVERS": "broker-a:9092,broker-b:9092",
    }
    return Monitoring.from_env(env).render()


def test_rendered_configs_are_valid(tmp_path: Path):
    prometheus_yml = render_local_configs(tmp_path)
    check = promtool("check", "config", str(prometheus_yml))
    assert check.returncode == 0, check.stdout + check.stderr

    config = yaml.safe_load(prometheus_yml.read_text())
    pushgateway = next(job for job in config["scrape_configs"] if job["job_name"] == "pushgateway")
    assert pushgateway["honor_labels"] is True
    assert pushgateway["static_configs"][0]["targets"] == ["127.0.0.1:29191"]
    burrow = next(job for job in config["scrape_configs"] if job["job_name"] == "burrow")
    assert burrow["static_configs"][0]["targets"] == ["127.0.0.1:28111"]
    assert config["rule_files"] == [str(MONITORING / "alerts.yml")]
    burrow_toml = (tmp_path / "burrow" / "burrow.toml").read_text()
    assert 'servers=[ "broker-a:9092", "broker-b:9092" ]' in burrow_toml
    assert 'address="127.0.0.1:28111"' in burrow_toml
    for rendered in (prometheus_yml.read_text(), burrow_toml):
        assert not re.findall(r"@[A-Z_]+@", rendered), "a placeholder was left unrendered"


def scrape_jobs(config_path: Path) -> dict[str, dict]:
    return {job["job_name"]: job for job in yaml.safe_load(config_path.read_text())["scrape_configs"]}


def test_production_prometheus_config_is_valid_and_scrapes_what_the_rules_read(tmp_path: Path):
    check = promtool("check", "config", str(PRODUCTION_PROMETHEUS))  # also checks alerts.yml, which it loads
    assert check.returncode == 0, check.stdout + check.stderr
    jobs = scrape_jobs(PRODUCTION_PROMETHEUS)
    local = scrape_jobs(render_local_configs(tmp_path))
    assert set(jobs) == set(local) - {"prometheus"}, "production and local stack scrape different jobs"
    assert jobs["pushgateway"]["honor_labels"] is True
    rules = [r for g in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    read_jobs = {m for r in rules for m in re.findall(r'\bjob="([^"]+)"', r["expr"])}
    assert read_jobs == {"pushgateway", "burrow"} and read_jobs <= set(jobs)


def test_dashboard_is_an_importable_grafana_dashboard():
    for key in ("__inputs", "panels", "schemaVersion", "templating", "time", "title", "uid"):
        assert key in DASHBOARD, key
    assert DASHBOARD["schemaVersion"] >= 36
    assert [i["name"] for i in DASHBOARD["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    assert {v["name"] for v in DASHBOARD["templating"]["list"]} >= {"job", "instance", "cluster", "consumer_group"}
    required_panels = {r["id"] for r in DASHBOARD["__requires"] if r["type"] == "panel"}
    assert {panel["type"] for panel in DASHBOARD["panels"]} == required_panels


def test_dashboard_shows_burrow_status_per_group_and_partition():
    exprs = {t["expr"]: panel for panel in DASHBOARD["panels"] for t in panel["targets"]}
    for name in (
        "burrow_kafka_consumer_status",
        "burrow_kafka_topic_partition_status",
        "burrow_kafka_consumer_partition_lag",
    ):
        assert any(name in metric_names(e) for e in exprs), f"no panel shows {name}"
    for expr, panel in exprs.items():
        if any(
            n.startswith("burrow_kafka_consumer") or n == "burrow_kafka_topic_partition_status"
            for n in metric_names(expr)
        ):
            assert 'consumer_group=~"$consumer_group"' in expr, f"{panel['title']}: {expr!r} ignores $consumer_group"
        if "status" in expr and "burrow" in expr:
            # The status gauges hold Burrow's StatusConstant: the panel must name them the way Burrow does.
            (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
            texts = {int(code): option["text"] for code, option in mapping["options"].items()}
            assert texts == dict(enumerate(BURROW_STATUS)), panel["title"]


def test_dashboard_shows_what_on_call_asks_first():
    exprs = [t["expr"] for panel in DASHBOARD["panels"] for t in panel["targets"]]
    reads = [metric_names(e) for e in exprs]
    assert any("burrow_kafka_consumer_lag_total" in n for n in reads), "lag in messages"
    assert any("ner_input_time_lag_seconds" in n for n in reads), "lag in seconds"
    for q in ("0.5", "0.99"):
        assert any(f"histogram_quantile({q}," in e and "ner_end_to_end_latency_seconds_bucket" in e for e in exprs)
    assert any("ner_messages_in_total" in n and "rate(" in e for n, e in zip(reads, exprs, strict=True)), "throughput"
    assert any("sum by (reason)" in e and "ner_dead_letters_total" in e for e in exprs), "dead letters by reason"
    assert any(n & {"metrics_executor_JVMHeapMemory_bytes", "metrics_executor_memoryUsed_bytes"} for n in reads)
    assert any("metrics_executor_totalDuration_seconds_total" in n for n in reads), "executor CPU"
    assert any("ner_running" in n for n in reads), "whether the job runs"


def test_dashboard_shows_quarantined_and_inference_failures():
    exprs = [t["expr"] for panel in DASHBOARD["panels"] for t in panel["targets"]]
    assert any('reason="poison"' in e and "ner_dead_letters_total" in e for e in exprs)
    assert any("inference_timeout|inference_crashed" in e and "ner_dead_letters_total" in e for e in exprs)


@pytest.mark.parametrize("panel", DASHBOARD["panels"], ids=lambda p: p["title"])
def test_dashboard_panel_queries_known_metrics(panel: dict):
    assert panel["type"] in {"timeseries", "stat", "state-timeline"}
    assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
    assert panel["targets"], "a panel without queries"
    assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"
        names = metric_names(target["expr"])
        assert names, f"no metric in {target['expr']!r}"
        unknown = {base_name(n) for n in names} - KNOWN_METRICS
        assert not unknown, f"{target['expr']!r} reads metrics neither the job nor Burrow exports: {unknown}"
