"""Smoke test of the benchmark harness: every contender runs on a tiny corpus and reports every figure."""

import json

import pytest

FIGURES = ("docs_per_s", "tokens_per_s", "ratio_to_ceiling", "cpu_s_per_1k_docs", "peak_rss")


@pytest.mark.timeout(900)
def test_every_contender_runs_and_reports(kafka_bootstrap, tmp_path):
    # Imported here, not at collection: the image's unit stage has no bench packages and deselects this test.
    # In .venv they are deps (tox.ini), so this never skips.
    from bench import run

    out, md, png = tmp_path / "smoke.json", tmp_path / "benchmarks.md", tmp_path / "benchmarks.png"
    code = run.main(["--docs", "30", "--latency-seconds", "3", "--no-scaling", "--bootstrap", kafka_bootstrap,
                     "--out", str(out), "--report", str(md), "--plot", str(png)])

    results = json.loads(out.read_text())
    by_name = {c["name"]: c for c in results["contenders"]}
    assert set(by_name) == set(run.CONTENDERS)
    assert code == 0, [c.get("error") for c in results["contenders"]]
    for name, entry in by_name.items():
        assert all(entry.get(f) for f in FIGURES), (name, entry)
        assert entry["docs"] == 30
        if name != "demo":  # the demo runs the full pipeline: parser sentence boundaries may move entities
            assert entry["entities_differ"] == 0, name
        if name != "ceiling":
            assert entry["latency_ms"]["missing"] == 0 and entry["latency_ms"]["p99"] > 0, name
    assert results["meta"]["packages"]["spacy"] and results["meta"]["cores"]
    assert "| this service" in md.read_text() and png.stat().st_size > 10_000
