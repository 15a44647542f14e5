"""The unchanged job on a Spark standalone cluster (the toolbox's Cluster, deploy/local/stack): both workers infer,
and the records equal local mode's for the same input."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack.clients import produce
from deploy.local.stack.cluster import Cluster
from test.helpers.jobs import job_env
from test.helpers.streams import outputs, run_to_end, stream_settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
# Not the `make cluster-up` defaults (7077, 8080-8082): tests may run while a developer's cluster is up.
# Ports below Linux's ephemeral range (32768-60999): there, any client socket could hold one for a moment, and a
# master UI that finds its port taken moves to the next one, where the readiness check does not look (seen once).
CLUSTER_ENV = {
    "CLUSTER_STATE_DIR": ".local/test-cluster",
    "SPARK_MASTER_PORT": "27177",
    "SPARK_MASTER_WEBUI_PORT": "27180",
    "SPARK_WORKER_WEBUI_PORT": "27181",
    "SPARK_WORKERS": "2",
    "SPARK_WORKER_CORES": "1",
    "SPARK_WORKER_MEMORY": "2g",
}
MASTER_UI = f"http://127.0.0.1:{CLUSTER_ENV['SPARK_MASTER_WEBUI_PORT']}"
DOCS = 300
SAME = ("uuid", "lang", "entities", "model")  # source and times say where and when, so they may differ


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A master and two one-core workers on this machine; yields the master URL."""
    spark_cluster = Cluster.from_env({**os.environ, **CLUSTER_ENV})
    spark_cluster.stop()  # daemons left by a killed session hold the ports
    try:
        spark_cluster.start()  # inside the try: a start that times out still stops the daemons it launched
        yield spark_cluster.master_url
    finally:
        spark_cluster.stop()


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the job exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        if value := predicate():
            return value
        time.sleep(1)
    raise AssertionError(f"no {what} after {timeout}s:\n{log.read_text()[-3000:]}")


def test_stream_on_the_cluster_uses_both_workers_and_matches_local_mode(
    cluster, spark, corpus, kafka_bootstrap, kafka_topics, tmp_path
):
    topics = (kafka_topics("input", 2), kafka_topics("result", 1), kafka_topics("dead", 1))
    records = [(d["uuid"].encode(), json.dumps(d).encode()) for d in corpus[:DOCS]]
    records[DOCS // 2 : DOCS // 2] = [(b"bad", b"{oops"), (b"de", b'{"uuid": "d", "text": "Berlin", "lang": "de"}')]
    produce(kafka_bootstrap, topics[0], records)

    ui_port = free_port()
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        unset=("PYTHONPATH",),  # executors import `app` only from what the job ships (as the Cluster clears it)
        SPARK_MASTER=cluster,
        SPARK_LOCAL_IP="127.0.0.1",
        # Small batches split into more tasks than executors (no Kafka locality): work for both workers.
        MAX_OFFSETS_PER_TRIGGER="50",
        MIN_PARTITIONS="4",
        # The driver UI on a known port, so the test can read its REST API (launcher plumbing, not a setting).
        PYSPARK_SUBMIT_ARGS=f"--conf spark.ui.port={ui_port} pyspark-shell",
    )
    log = tmp_path / "job.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.run"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        on_cluster = outputs(kafka_bootstrap, topics[1], expected=DOCS, timeout=480)
        assert len(on_cluster) == DOCS, log.read_text()[-3000:]
        master = get_json(f"{MASTER_UI}/json/")
        assert [w["state"] for w in master["workers"]] == ["ALIVE", "ALIVE"]
        assert [a["name"] for a in master["activeapps"]] == ["ner"]  # QUERY_NAME names the application
        assert all(w["coresused"] == 1 for w in master["workers"]), master["workers"]  # an executor on each

        api = f"http://127.0.0.1:{ui_port}/api/v1/applications"
        app_id = get_json(api)[0]["id"]
        assert app_id == master["activeapps"][0]["id"]
        executors = wait_for(
            lambda: [e for e in get_json(f"{api}/{app_id}/executors") if e["id"] != "driver"],
            60,
            "executors",
            proc,
            log,
        )
        assert len(executors) == 2 and all(e["completedTasks"] > 0 for e in executors), executors
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 0, log.read_text()[-3000:]
    cluster_dead = outputs(kafka_bootstrap, topics[2], expected=2)

    # The same input in local mode, into topics of its own.
    local_topics = (topics[0], kafka_topics("result", 1), kafka_topics("dead", 1))
    run_to_end(spark, stream_settings(kafka_bootstrap, local_topics, tmp_path / "local-ckpt"))
    local = {r["value"]["uuid"]: r["value"] for r in outputs(kafka_bootstrap, local_topics[1], expected=DOCS)}
    clustered = {r["value"]["uuid"]: r["value"] for r in on_cluster}
    assert set(clustered) == set(local) and len(local) == DOCS
    assert all({k: clustered[u][k] for k in SAME} == {k: local[u][k] for k in SAME} for u in local)
    local_dead = outputs(kafka_bootstrap, local_topics[2], expected=2)
    assert (
        sorted(d["value"]["reason"] for d in cluster_dead)
        == sorted(d["value"]["reason"] for d in local_dead)
        == ["invalid_json", "unsupported_lang"]
    )
