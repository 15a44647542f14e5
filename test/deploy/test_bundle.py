"""databricks.yml: valid against the bundle's documented keys and models, and the same job as deploy-job.sh."""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk.service.jobs import JobSettings

from deploy.databricks.job_spec import access_control_list, job_settings
from deploy.databricks.settings import RUNTIME_ENV, DeploySettings, read_env_file

from . import bundle
from .drone import deploy_step_env
from .fake_jobs_api import validate_settings

CONFIG = bundle.load()
STAGED = {"image": "registry.example/ml/ner-streaming@sha256:" + "3f" * 32, "checkpoint_location": "/Volumes/ml/n/c/x",
          "log_destination": "s3://bucket/logs", "instance_profile_arn": "arn:aws:iam::1:instance-profile/ner",
          "job_identity": "11111111-2222-3333-4444-555555555555", "kafka_bootstrap_servers": "kafka:9092",
          "kafka_sasl_username": "ner", "pushgateway_url": "http://pushgateway:9091"}


def test_bundle_uses_only_documented_keys() -> None:
    assert set(CONFIG) <= bundle.TOP_KEYS
    assert set(CONFIG["targets"]) == {"dev", "staging", "prod"}
    for name, target in CONFIG["targets"].items():
        assert set(target) <= bundle.TARGET_KEYS, name
    for name, spec in CONFIG["variables"].items():
        assert set(spec) <= bundle.VARIABLE_KEYS, name
    assert set(CONFIG["resources"]) == {"jobs"}


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_bundle_job_is_valid_for_the_bundle_and_the_jobs_api(target: str) -> None:
    job = bundle.job(CONFIG, target, STAGED)
    models = pytest.importorskip("databricks.bundles.jobs", reason="databricks-bundles (requirements-dev.txt)")

    assert models.Job.from_dict(job).as_dict() == job  # strict: an unknown field raises
    settings = {k: v for k, v in job.items() if k != "permissions"}  # bundle-only: set through the permissions API
    assert JobSettings.from_dict(settings).as_dict() == settings
    validate_settings(settings, target)  # the fake API's server-side checks


def test_bundle_runtime_is_the_one_in_runtime_env() -> None:
    runtime = read_env_file(RUNTIME_ENV)["DATABRICKS_RUNTIME"]

    assert CONFIG["variables"]["spark_version"]["default"] == runtime
    assert not any("spark_version" in t.get("variables", {}) for t in CONFIG["targets"].values())


@pytest.mark.parametrize(("target", "step"), [("staging", "deploy-stage"), ("prod", "deploy-prod")])
def test_bundle_and_script_deploy_the_same_job(target: str, step: str, tmp_path: Path) -> None:
    """The Drone step's environment, given to the script and (as --var values) to the bundle, gives one job."""
    env = deploy_step_env(step, tmp_path, image_digest=STAGED["image"].rsplit("@", 1)[1])
    s = DeploySettings.load(env)
    given = {"image": s.image, "checkpoint_location": s.checkpoint_location, "log_destination": s.log_destination,
             "instance_profile_arn": s.instance_profile_arn, "job_identity": s.run_as_service_principal,
             "kafka_bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"],
             "kafka_sasl_username": env["KAFKA_SASL_USERNAME"], "pushgateway_url": env["PUSHGATEWAY_URL"]}
    job = bundle.job(CONFIG, target, given)
    permissions = job.pop("permissions")

    assert job == job_settings(s)
    assert [{"group_name": p["group_name"], "permission_level": p["level"]} for p in permissions] == \
        access_control_list(s)
