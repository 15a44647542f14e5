"""databricks.yml: valid against the bundle's documented keys and models, its job resource generated from the
script's job spec (and fresh), and the same job as deploy-job.sh for the same settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk.service.jobs import JobSettings

from deploy.databricks import bundle_resource
from deploy.databricks.job_spec import JobValues, access_control_list, job_settings
from deploy.databricks.settings import RUNTIME_ENV, DeploySettings, read_env_file
from test.helpers import bundle
from test.helpers.drone import deploy_step_env
from test.helpers.fake_jobs_api import validate_settings

CONFIG = bundle.load()
STAGED = {
    "image": "registry.example/ml/ner-streaming@sha256:" + "3f" * 32,
    "checkpoint_location": "/Volumes/ml/n/c/x",
    "log_destination": "s3://bucket/logs",
    "aws_region": "eu-west-1",
    "instance_profile_arn": "arn:aws:iam::1:instance-profile/ner",
    "job_identity": "11111111-2222-3333-4444-555555555555",
    "kafka_bootstrap_servers": "kafka:9092",
    "kafka_sasl_username": "ner",
    "input_topic": "in",
    "result_topic": "out",
    "dead_letter_topic": "dead",
    "pushgateway_url": "http://pushgateway:9091",
    "alert_destination_id": "destination-1",
}


def test_bundle_uses_only_documented_keys() -> None:
    assert set(CONFIG) <= bundle.TOP_KEYS
    assert set(CONFIG["targets"]) == {"dev", "staging", "prod"}
    for name, target in CONFIG["targets"].items():
        assert set(target) <= bundle.TARGET_KEYS, name
    for name, spec in CONFIG["variables"].items():
        assert set(spec) <= bundle.VARIABLE_KEYS, name
    assert set(CONFIG["resources"]) == {"jobs"}


def test_bundle_job_resource_is_generated_from_the_job_spec() -> None:
    """Stale when job_spec.py changed and `make bundle-resource` was not run."""
    assert bundle_resource.RESOURCE.read_text() == bundle_resource.render(), "run make bundle-resource"
    assert bundle_resource.main(["--check"]) == 0


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_bundle_job_is_valid_for_the_bundle_and_the_jobs_api(target: str) -> None:
    job = bundle.job(CONFIG, target, STAGED)
    models = pytest.importorskip("databricks.bundles.jobs", reason="databricks-bundles (requirements-dev.txt)")

    assert models.Job.from_dict(job).as_dict() == job  # strict: an unknown field raises
    settings = {k: v for k, v in job.items() if k != "permissions"}  # bundle-only: set through the permissions API
    assert JobSettings.from_dict(settings).as_dict() == settings
    validate_settings(settings, target)  # the fake API's server-side checks


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_bundle_deploy_never_resumes_a_paused_job(target: str) -> None:
    assert "UNPAUSED" not in bundle_resource.RESOURCE.read_text()
    assert bundle.job(CONFIG, target, STAGED)["continuous"]["pause_status"] == "PAUSED"  # unless given


def test_bundle_production_targets_have_a_shared_root_path() -> None:
    for target in ("staging", "prod"):
        root = CONFIG["targets"][target]["workspace"]["root_path"]
        assert root.startswith("/Workspace/Shared/") and root.endswith(f"/{target}")


def test_bundle_runtime_is_the_one_in_runtime_env() -> None:
    runtime = read_env_file(RUNTIME_ENV)["DATABRICKS_RUNTIME"]

    assert CONFIG["variables"]["spark_version"]["default"] == runtime
    assert not any("spark_version" in t.get("variables", {}) for t in CONFIG["targets"].values())


@pytest.mark.parametrize(("target", "step"), [("staging", "deploy-stage"), ("prod", "deploy-prod")])
@pytest.mark.parametrize("pause", ["PAUSED", "UNPAUSED"])
def test_bundle_and_script_deploy_the_same_job(target: str, step: str, pause: str, tmp_path: Path) -> None:
    """The Drone step's environment, given to the script and (as --var values) to the bundle, gives one job:
    environment, registry auth, region, driver type, health rules and pause state alike."""
    env = deploy_step_env(step, tmp_path, image_digest=STAGED["image"].rsplit("@", 1)[1])
    s = DeploySettings.load(env)
    job = bundle.job(CONFIG, target, bundle_resource.variables(s, pause))
    permissions = job.pop("permissions")

    assert job == job_settings(JobValues.from_settings(s, pause))
    groups = [a for a in access_control_list(s) if a["permission_level"] != "IS_OWNER"]
    assert [{"group_name": p["group_name"], "permission_level": p["level"]} for p in permissions] == groups
