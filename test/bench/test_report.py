"""The report judges the service against the best plain peer of the run, and sets exactly-once beside
at-least-once (no broker: results as bench.run writes them)."""

import copy

import pytest

from bench import report

META = {
    "command": "python -m bench.run",
    "date": "2026-12-05",
    "git_commit": "abc1234",
    "cpu": "cpu",
    "cores": 2,
    "memory_gib": 8,
    "os": "Linux",
    "python": "3.11",
    "java": "java",
    "kafka_broker": "4.1.1",
    "packages": {"spacy": "3.8.18"},
    "uptime": "up",
    "docs": 400,
    "tokens": 50_000,
    "corpus": "bench.jsonl.gz",
    "latency_seconds": 15.0,
    "load_fraction": 0.5,
}


def entry(name: str, docs_per_s: float, cpu: float, **more) -> dict:
    return {
        "name": name,
        "label": f"{name} label",
        "docs": 400,
        "docs_per_s": docs_per_s,
        "drain_seconds": round(400 / docs_per_s, 2),
        "cpu_s_per_1k_docs": cpu,
        "duplicates": 0,
        **more,
    }


def curve(*p99s: float) -> dict:
    points = [
        {"load": load, "rate_docs_per_s": load * 100, "p50": p99 / 2, "p95": p99, "p99": p99, "missing": 0}
        for load, p99 in zip((0.5, 0.8), p99s, strict=True)
    ]
    return {"curve": {"base_docs_per_s": 100.0, "points": points}, "latency_ms": points[0]}


RESULTS = {
    "meta": META,
    "contenders": [
        entry("ceiling", 120.0, 9.0),
        entry("service", 110.0, 10.0, **curve(800, 2500)),
        entry("service-eos", 99.0, 10.5, **curve(1200, 3000)),
        entry("consumer", 100.0, 10.0, **curve(100, 400)),
        entry("confluent-consumer", 105.0, 9.5, **curve(90, 300)),
        entry("quix", 80.0, 12.0, **curve(95, 5000)),
        entry("quix-eos", 60.0, 13.0, latency_ms={"rate_docs_per_s": 50.0, "p50": 600, "p95": 900, "p99": 1100}),
        {"name": "demo", "label": "demo label", "error": "boom"},
    ],
}


def verdicts(out: dict) -> dict[str, tuple[str, str]]:
    return {target.split(" (")[0]: (seen, verdict) for target, seen, verdict in report.targets(out)}


def test_the_drain_target_is_judged_against_the_fastest_plain_peer_whichever_it_is():
    assert report.best_peer(RESULTS)["name"] == "confluent-consumer"
    got = verdicts(RESULTS)
    assert got["drain >= 1.10x the best plain peer"] == ("110.0 vs 105.0 docs/s = 1.05x", "not met")
    assert got["drain >= 0.90x the ceiling"] == ("110.0 vs 120.0 docs/s = 0.92x", "met")

    slow_librdkafka = copy.deepcopy(RESULTS)
    slow_librdkafka["contenders"][4]["docs_per_s"] = 90.0
    assert report.best_peer(slow_librdkafka)["name"] == "consumer"
    assert verdicts(slow_librdkafka)["drain >= 1.10x the best plain peer"] == (
        "110.0 vs 100.0 docs/s = 1.10x",
        "met",
    )
    assert "(kafka-python consumer" not in report.table(RESULTS)  # labels here are "<name> label"
    assert "| drain >= 1.10x the best plain peer (confluent-consumer label) |" in report.table(RESULTS)


def test_exactly_once_rows_are_never_plain_peers_and_a_failed_peer_is_skipped():
    fast_eos = copy.deepcopy(RESULTS)
    fast_eos["contenders"][6]["docs_per_s"] = 500.0  # quix-eos
    fast_eos["contenders"].append({"name": "consumer", "label": "x", "error": "boom"})
    assert report.best_peer(fast_eos)["name"] == "confluent-consumer"
    assert report.best_peer({"meta": META, "contenders": [entry("service", 1, 1)]}) is None


def test_cpu_is_judged_against_the_cheapest_plain_peer():
    assert report.cheapest_peer(RESULTS)["name"] == "confluent-consumer"
    assert verdicts(RESULTS)["CPU per 1k documents below the cheapest plain peer's"] == ("10.0 vs 9.5 s", "not met")


def test_p99_targets_and_the_exactly_once_ratio():
    got = verdicts(RESULTS)
    assert got["p99 <= 1.0 s at 50% load"] == ("0.80 s at 50.0 docs/s", "met")
    assert got["p99 <= 2.0 s at 80% load"] == ("2.50 s at 80.0 docs/s", "not met")
    assert got["exactly-once drain >= 0.95x at-least-once"] == ("99.0 vs 110.0 docs/s = 0.90x", "not met")


def test_the_exactly_once_table_sets_each_guarantee_beside_the_other():
    lines = report.exactly_once(RESULTS)
    service = next(line for line in lines if line.startswith("| service label"))
    quix = next(line for line in lines if line.startswith("| quix label"))
    assert service == "| service label | 110.0 / 99.0 | 0.90 | 10.0 / 10.5 | 800 / 1200 | 0 / 0 |"
    assert quix == "| quix label | 80.0 / 60.0 | 0.75 | 12.0 / 13.0 | 95 / 1100 | 0 / 0 |"
    assert any(
        "exactly-once / Quix Streams exactly-once: 1.65x the drain rate, 0.81x the CPU" in line for line in lines
    )


@pytest.mark.parametrize("missing", ["service-eos", "quix-eos"])
def test_without_an_exactly_once_row_its_pair_is_left_out(missing):
    out = {**RESULTS, "contenders": [e for e in RESULTS["contenders"] if e["name"] != missing]}
    rows = [line.split(" |")[0] for line in report.exactly_once(out) if line.startswith("| ") and "label" in line]
    assert rows == (["| quix label"] if missing == "service-eos" else ["| service label"])
    if missing == "service-eos":
        assert verdicts(out)["exactly-once drain >= 0.95x at-least-once"] == ("-", "not measured")
    assert "Quix Streams exactly-once:" not in report.table(out)


def test_no_service_row_leaves_every_target_not_measured():
    out = {"meta": META, "contenders": [entry("consumer", 100.0, 10.0)]}
    got = verdicts(out)
    assert all(verdict == "not measured" for _, verdict in got.values())
    assert report.exactly_once(out) == []
