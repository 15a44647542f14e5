"""Helpers for the deploy tests: a staging environment for deploy-job.sh, running the script as CI does, and a real
Pushgateway the health check reads (the job's batches pushed with the app's own metrics code)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.workers.metrics import AppMetrics
from app.workers.metrics_push import pushgateway
from test.helpers.fake_jobs_api import FakeJobsApi

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "databricks" / "deploy-job.sh"
TOKEN = "dapi-test-0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # unique, so any leak into output is unambiguous
CLIENT_ID = "6f0c2b8e-sp-ner-deployer"
CLIENT_SECRET = "dose-oauth-secret-9a8b7c6d5e4f"
DIGEST = "sha256:" + "3f" * 32
SP = "11111111-2222-3333-4444-555555555555"
DEPLOYER = "22222222-3333-4444-5555-666666666666"  # the deploy principal's application id: the job's owner
NAME = "ner-streaming-stage"
KEY = "ner-streaming-staging"


def make_env(
    api: FakeJobsApi, tmp: Path, gateway: str = "http://127.0.0.1:9", **overrides: str | None
) -> dict[str, str]:
    env: dict[str, str | None] = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),  # no ~/.databrickscfg of the person running the tests
        "PYTHON": sys.executable,
        "DATABRICKS_HOST": api.url,
        "DATABRICKS_TOKEN": TOKEN,
        "JOB_NAME": NAME,
        "APP_ENV": "staging",
        "IMAGE_REGISTRY": "registry.example/ml",
        "IMAGE_NAME": "ner-streaming",
        "IMAGE_DIGEST": DIGEST,
        "INSTANCE_TYPE": "m5.xlarge",
        "CHECKPOINT_LOCATION": "/Volumes/ml/ner/checkpoints/stage",
        "LOG_DESTINATION": "s3://bucket/ner/logs",
        "AWS_REGION": "eu-west-1",
        "RUN_AS_SERVICE_PRINCIPAL": SP,
        "JOB_OWNER": DEPLOYER,
        "JOB_PERMISSIONS": "ner-oncall=CAN_MANAGE_RUN,data-eng=CAN_VIEW",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ner",
        "KAFKA_SASL_PASSWORD": "{{secrets/ner-stage/kafka-password}}",
        "INPUT_TOPIC": "ner-input",
        "RESULT_TOPIC": "ner-result",
        "DEAD_LETTER_TOPIC": "ner-dead-letter",
        "PUSHGATEWAY_URL": gateway,
        "ALERT_DESTINATION_ID": "0f0e0d0c-oncall-destination",
        "DEPLOY_HEALTH_SECONDS": "0.4",
        "DEPLOY_POLL_SECONDS": "0.05",
        "DEPLOY_TIMEOUT_SECONDS": "20",
        "DEPLOY_SCHEDULER_GRACE_SECONDS": "0.5",
        "DATABRICKS_API_RETRY_TIMEOUT_SECONDS": "5",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def deploy(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the script as CI does; every run also checks that no credential reached stdout or stderr."""
    result = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    for secret in (TOKEN, CLIENT_SECRET):
        assert secret not in result.stdout + result.stderr
    return result


def rendered(api: FakeJobsApi) -> dict:
    """The settings the deploy put in place: its reset's (a new job is created paused, then reset)."""
    (call,) = [c for c in api.writes() if c.path == "jobs/reset"]
    return call.body["new_settings"]


class Pushgateway:
    """A real prometheus-pushgateway on a free port (Debian's package, as `make monitoring-tools` installs it)."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("prometheus-pushgateway")
        assert binary, "prometheus-pushgateway is not installed (make monitoring-tools)"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._log = (tmp / "pushgateway.log").open("w")
        self.proc = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.interval=0s"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "pushgateway did not start"
                time.sleep(0.1)

    def push_batch(self, job: str = NAME, at: float | None = None) -> None:
        """What the job's metrics pusher sends after a micro-batch (app/workers: the same metrics and grouping)."""
        metrics = AppMetrics(("en",))
        metrics.observe_progress({"batchId": 0}, time.time() if at is None else at)
        pushgateway(self.url, job, "driver")(metrics.registry)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._log.close()
