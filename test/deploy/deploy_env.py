"""Helpers for the deploy tests: a staging environment for deploy-job.sh, and running the script as CI does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .fake_jobs_api import FakeJobsApi

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "databricks" / "deploy-job.sh"
TOKEN = "dapi-test-0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # unique, so any leak into output is unambiguous
CLIENT_ID = "6f0c2b8e-sp-ner-deployer"
CLIENT_SECRET = "dose-oauth-secret-9a8b7c6d5e4f"
DIGEST = "sha256:" + "3f" * 32
SP = "11111111-2222-3333-4444-555555555555"
NAME = "ner-streaming-stage"


def make_env(api: FakeJobsApi, tmp: Path, **overrides: str | None) -> dict[str, str]:
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
        "RUN_AS_SERVICE_PRINCIPAL": SP,
        "JOB_PERMISSIONS": "ner-oncall=CAN_MANAGE_RUN,data-eng=CAN_VIEW",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ner",
        "KAFKA_SASL_PASSWORD": "{{secrets/ner-stage/kafka-password}}",
        "DEPLOY_POLL_SECONDS": "0.05",
        "DEPLOY_TIMEOUT_SECONDS": "20",
        "DEPLOY_SCHEDULER_GRACE_SECONDS": "0.5",
        "DATABRICKS_API_RETRY_TIMEOUT_SECONDS": "5",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def deploy(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the script as CI does; every run also checks that no credential reached stdout or stderr."""
    result = subprocess.run(["bash", str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=120, check=False)
    for secret in (TOKEN, CLIENT_SECRET):
        assert secret not in result.stdout + result.stderr
    return result


def rendered(api: FakeJobsApi) -> dict:
    """The settings from the one create or reset call."""
    (call,) = [c for c in api.writes() if c.path in ("jobs/create", "jobs/reset")]
    return call.body if call.path == "jobs/create" else call.body["new_settings"]
