"""Smoke test of the benchmark harness: every contender runs on a tiny corpus and reports every figure."""

import json

import pytest

FIGURES = ("docs_per_s", "tokens_per_s", "ratio_to_ceiling", "cpu_s_per_1k_docs", "peak_rss")
# The exactly-once rows are left to `make bench`: a second Spark service would double this test's time, and Quix
# exactly-once is the Quix contender with one option (test/bench/test_specs.py checks the wiring of both).
NOT_SMOKED = ("service-eos", "quix-eos")


@pytest.mark.timeout(900)
def test_every_contender_runs_and_reports(kafka_bootstrap, tmp_path):
    # Imported here, not at collection: the image's unit stage has no bench packages and deselects this test.
    # In .venv they are deps (tox.ini), so this never skips.
    from bench import harness, run

    out, md, png = tmp_path / "smoke.json", tmp_path / "benchmarks.md", tmp_path / "benchmarks.png"
    smoked = [c for c in run.CONTENDERS if c not in NOT_SMOKED]
    code = run.main(
        [
            "--contenders",
            ",".join(smoked),
            "--docs",
            "30",
            "--latency-seconds",
            "3",
            "--no-scaling",
            "--bootstrap",
            kafka_bootstrap,
            "--curve",
            "0.25,0.5",
            "--ceiling-batch-sizes",
            "8,64",
            "--ceiling-sweep-docs",
            "30",
            "--mixed-repeat",
            "1",
            "--out",
            str(out),
            "--report",
            str(md),
            "--plot",
            str(png),
        ]
    )

    results = json.loads(out.read_text())
    by_name = {c["name"]: c for c in results["contenders"]}
    assert set(by_name) == set(smoked) - {"mixed"}
    assert code == 0, [c.get("error") for c in results["contenders"]] + [results["languages"].get("error")]
    for name, entry in by_name.items():
        assert all(entry.get(f) for f in FIGURES), (name, entry)
        assert entry["docs"] == 30
        if name != "demo":  # the demo runs the full pipeline: parser sentence boundaries may move entities
            assert entry["entities_differ"] == 0, name
        if name != "ceiling":
            assert entry["latency_ms"]["missing"] == 0 and entry["latency_ms"]["p99"] > 0, name
        if name in (
            "consumer",
            "confluent-consumer",
            "quix",
        ):  # consumer groups: checked idle after the warm-up before measuring
            assert entry["idle_cores_after_warm_up"] <= harness.IDLE_CORES_MAX, (name, entry)
            assert isinstance(entry["restarts"], list), name
    for name in (
        c for c in run.CURVED if c in smoked
    ):  # the latency curve: every contender at the same input rates, main point included
        curve = by_name[name]["curve"]
        assert [p["load"] for p in curve["points"]] == [0.25, 0.5]
        assert curve["base_docs_per_s"] == by_name["service"]["docs_per_s"]
        assert all(p["missing"] == 0 and p["p99"] > 0 for p in curve["points"]), name
        assert by_name[name]["latency_ms"] == curve["points"][1]
    sweep = results["meta"]["ceiling_batch_sizes"]
    assert set(sweep["docs_per_s"]) == {"8", "64"} and sweep["best"] in (8, 64)
    drains = results["languages"]["drains"]  # the mixed corpus: whole, then each language alone
    assert {k: v["distinct_docs"] for k, v in drains.items()} == {"mixed": 507, "en": 300, "fr": 207}
    assert all(v["docs_per_s"] > 0 and v["cpu_s_per_1k_docs"] > 0 for v in drains.values())
    assert results["languages"]["duplicates"] == 0
    assert results["meta"]["packages"]["spacy"] and results["meta"]["cores"]
    text = md.read_text()
    assert "| this service" in text and "Latency against load" in text and "| fr | 207 |" in text
    assert "| drain >= 1.10x the best plain peer (" in text and "| confluent-kafka consumer x" in text
    assert png.stat().st_size > 10_000 and (tmp_path / "benchmarks-latency.png").stat().st_size > 10_000
