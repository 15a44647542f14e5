"""deploy-job.sh (deploy_job.py on databricks-sdk) against the strict fake Jobs API: create, reset, restart, wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk.service.jobs import JobSettings

from .deploy_env import CLIENT_ID, CLIENT_SECRET, DIGEST, NAME, SP, TOKEN, deploy, make_env, rendered
from .fake_jobs_api import FakeJobsApi

OLD = {"name": NAME, "tasks": [{"task_key": "old", "spark_python_task": {"python_file": "x"}}]}


@pytest.fixture
def api() -> Iterator[FakeJobsApi]:
    with FakeJobsApi(TOKEN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        yield fake


@pytest.fixture
def env(api: FakeJobsApi, tmp_path: Path) -> dict[str, str]:
    return make_env(api, tmp_path)


def running(api: FakeJobsApi, job_id: int) -> dict:
    (run,) = api.active_runs(job_id)
    assert run["state"] == "RUNNING"
    return run


def test_deploy_creates_a_job_and_waits_until_its_run_is_running(api: FakeJobsApi, env: dict) -> None:
    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.writes()] == ["jobs/create", "permissions/jobs/1001"]
    (job_id,) = api.jobs
    assert running(api, job_id)["settings"] == api.jobs[job_id]
    assert "is RUNNING" in result.stderr
    settings = api.jobs[job_id]
    assert settings["continuous"] == {"pause_status": "UNPAUSED", "task_retry_mode": "ON_FAILURE"}
    assert settings["run_as"] == {"service_principal_name": SP}
    assert api.permissions[job_id] == [{"group_name": "ner-oncall", "permission_level": "CAN_MANAGE_RUN"},
                                       {"group_name": "data-eng", "permission_level": "CAN_VIEW"}]
    cluster = settings["tasks"][0]["new_cluster"]
    assert cluster["num_workers"] == 2 and "autoscale" not in cluster  # fixed size for streaming
    assert cluster["docker_image"] == {"url": f"registry.example/ml/ner-streaming@{DIGEST}"}  # no stored creds
    assert cluster["data_security_mode"] == "SINGLE_USER" and cluster["single_user_name"] == SP
    assert cluster["spark_version"] == "17.3.x-scala2.13"
    assert "init_scripts" not in cluster
    assert cluster["spark_conf"]["spark.metrics.conf.*.sink.prometheusServlet.path"] == "/metrics/prometheus"
    assert cluster["spark_conf"]["spark.databricks.unityCatalog.volumes.enabled"] == "true"
    assert cluster["spark_env_vars"]["KAFKA_SASL_PASSWORD"] == "{{secrets/ner-stage/kafka-password}}"
    assert cluster["spark_env_vars"]["CHECKPOINT_LOCATION"] == "/Volumes/ml/ner/checkpoints/stage"
    assert cluster["cluster_log_conf"] == {"s3": {"destination": "s3://bucket/ner/logs"}}


def test_deploy_settings_survive_the_sdk_round_trip(api: FakeJobsApi, env: dict) -> None:
    """A misspelt field would be dropped by JobSettings.from_dict, so the round trip would differ."""
    env |= {"AWS_REGION": "us-east-1", "INSTANCE_PROFILE_ARN": "arn:aws:iam::1:instance-profile/ner",
            "DOCKER_PULL_USERNAME": "puller", "DOCKER_PULL_PASSWORD": "{{secrets/ner/registry}}"}
    assert deploy(env).returncode == 0
    settings = rendered(api)

    assert JobSettings.from_dict(settings).as_dict() == settings
    assert settings["tasks"][0]["new_cluster"]["docker_image"]["basic_auth"]["password"] == "{{secrets/ner/registry}}"


def test_deploy_autoscales_only_on_request(api: FakeJobsApi, env: dict) -> None:
    assert deploy(env | {"AUTOSCALE_MIN_WORKERS": "2", "AUTOSCALE_MAX_WORKERS": "8"}).returncode == 0

    cluster = rendered(api)["tasks"][0]["new_cluster"]
    assert cluster["autoscale"] == {"min_workers": 2, "max_workers": 8} and "num_workers" not in cluster


def test_deploy_restarts_a_running_continuous_job_by_cancelling_its_run(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD | {"continuous": {"pause_status": "UNPAUSED"}})
    old_run = api.add_run(job_id)

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.writes()] == ["jobs/reset", "permissions/jobs/1001", "jobs/runs/cancel"]
    assert "jobs/run-now" not in api.paths()  # the scheduler started the new run
    assert api.runs[old_run]["state"] == "TERMINATED"
    assert running(api, job_id)["settings"] == rendered(api) == api.jobs[job_id]


def test_deploy_leaves_a_paused_job_paused(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD | {"continuous": {"pause_status": "PAUSED"}})

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert api.jobs[job_id]["continuous"]["pause_status"] == "PAUSED"
    assert api.jobs[job_id]["tasks"][0]["task_key"] == "ner"  # the settings were updated
    assert not {"jobs/run-now", "jobs/runs/cancel"} & {c.path for c in api.writes()}
    assert api.active_runs(job_id) == []
    assert "stays paused" in result.stderr


def test_deploy_runs_now_when_the_scheduler_starts_no_run(api: FakeJobsApi, env: dict) -> None:
    api.auto_start_continuous = False  # e.g. a job waiting in backoff: run-now resumes it

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.writes()][-1] == "jobs/run-now"
    (job_id,) = api.jobs
    running(api, job_id)


def test_deploy_fails_when_the_run_never_reaches_running(api: FakeJobsApi, env: dict) -> None:
    api.run_outcome = "PENDING"

    result = deploy(env | {"DEPLOY_TIMEOUT_SECONDS": "1"})

    assert result.returncode == 1
    assert "still PENDING after 1s" in result.stderr


def test_deploy_fails_with_the_run_state_message_when_the_run_fails(api: FakeJobsApi, env: dict) -> None:
    api.run_outcome = "INTERNAL_ERROR"
    api.run_failure_message = "Cluster failed to launch: DOCKER_IMAGE_PULL_FAILURE: manifest unknown"

    result = deploy(env)

    assert result.returncode == 1
    assert "is INTERNAL_ERROR, not RUNNING" in result.stderr and "DOCKER_IMAGE_PULL_FAILURE" in result.stderr


def test_deploy_creates_no_job_when_the_list_reply_is_not_json(api: FakeJobsApi, env: dict) -> None:
    api.fail(200, path="jobs/list", html=True)  # a proxy's or login page's HTML with status 200

    result = deploy(env)

    assert result.returncode == 1
    assert api.writes() == [] and api.jobs == {}
    assert "ERROR" in result.stderr


def test_deploy_refuses_when_two_jobs_share_the_name(api: FakeJobsApi, env: dict) -> None:
    ids = [api.add_job(OLD), api.add_job(OLD | {"name": NAME.upper()})]

    result = deploy(env)

    assert result.returncode == 1
    assert f"2 jobs are named '{NAME}'" in result.stderr and all(str(i) in result.stderr for i in ids)
    assert api.writes() == []


def test_deploy_finds_the_job_on_the_second_page(api: FakeJobsApi, env: dict) -> None:
    # With the name filter ignored (as API 2.0 did) ours lands on page 2: the SDK follows next_page_token.
    api.page_size, api.honour_name_filter = 2, False
    for name in ("other-1", f"{NAME}-canary", "other-3"):
        api.add_job(OLD | {"name": name})
    job_id = api.add_job(OLD)

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert len([c for c in api.calls if c.path == "jobs/list"]) == 2
    assert api.writes()[0].path == "jobs/reset" and api.writes()[0].body["job_id"] == job_id


def test_deploy_deploys_as_an_oauth_service_principal(api: FakeJobsApi, env: dict) -> None:
    del env["DATABRICKS_TOKEN"]
    env |= {"DATABRICKS_CLIENT_ID": CLIENT_ID, "DATABRICKS_CLIENT_SECRET": CLIENT_SECRET}

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.calls if c.path.startswith("oidc/v1")] == ["oidc/v1/token"]
    (job_id,) = api.jobs
    running(api, job_id)


def test_deploy_reports_rejected_credentials_without_retrying(api: FakeJobsApi, env: dict) -> None:
    result = deploy(env | {"DATABRICKS_TOKEN": "dapi-wrong"})

    assert result.returncode == 1
    assert "Invalid access token" in result.stderr
    assert api.paths() == ["GET jobs/list"]


def test_deploy_retries_a_temporarily_unavailable_api(api: FakeJobsApi, env: dict) -> None:
    api.fail(503, times=1, path="jobs/list", retry_after=1)

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert api.paths()[:2] == ["GET jobs/list", "GET jobs/list"]


def test_deploy_dry_run_prints_the_settings_and_writes_nothing(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD | {"continuous": {"pause_status": "PAUSED"}})

    result = deploy(env, "--dry-run")

    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["name"] == NAME and settings["continuous"]["pause_status"] == "PAUSED"
    assert f"would reset job {job_id}" in result.stderr and "leave it paused" in result.stderr
    assert api.writes() == []


def test_deploy_help_names_every_variable(env: dict) -> None:
    result = deploy(env, "--help")

    assert result.returncode == 0
    for var in ("JOB_NAME", "IMAGE_DIGEST", "NUM_WORKERS", "AUTOSCALE_MAX_WORKERS", "CHECKPOINT_LOCATION"):
        assert var in result.stdout


@pytest.mark.parametrize(("overrides", "message"), [
    ({"JOB_NAME": None}, "missing required environment variable(s): JOB_NAME"),
    ({"APP_ENV": "prod"}, "APP_ENV=prod: expected one of"),
    ({"KAFKA_SASL_PASSWORD": "hunter2-plain"}, "KAFKA_SASL_PASSWORD: a plain value would be stored"),
    ({"APP_ENV": "production", "PUSHGATEWAY_PASSWORD": "pw"}, "PUSHGATEWAY_PASSWORD: a plain value"),
    ({"DOCKER_PULL_USERNAME": "u", "DOCKER_PULL_PASSWORD": "registry-pass"}, "DOCKER_PULL_PASSWORD: a plain value"),
    ({"IMAGE_DIGEST": None, "IMAGE_TAG": "stage"}, "staging deploys an image by digest"),
    ({"CHECKPOINT_LOCATION": "dbfs:/checkpoints/ner"}, "CHECKPOINT_LOCATION=dbfs:/checkpoints/ner: expected"),
    ({"LOG_DESTINATION": "/Volumes/ml"}, "LOG_DESTINATION=/Volumes/ml: expected"),
    ({"AUTOSCALE_MAX_WORKERS": "4"}, "set both AUTOSCALE_MIN_WORKERS and AUTOSCALE_MAX_WORKERS"),
    ({"NUM_WORKERS": "0"}, "NUM_WORKERS=0: a streaming job needs at least one worker"),
    ({"NUM_WORKERS": "two"}, "NUM_WORKERS='two': expected int"),
    ({"RUN_AS_SERVICE_PRINCIPAL": None}, "set RUN_AS_SERVICE_PRINCIPAL"),
    ({"JOB_PERMISSIONS": "oncall=OWNER"}, "JOB_PERMISSIONS: oncall=OWNER"),
    ({"DATABRICKS_RUNTIME": "15.4.x-scala2.12"}, "the runtime is set in"),
])
def test_deploy_rejects_bad_settings_before_any_call(api: FakeJobsApi, env: dict, overrides: dict,
                                                      message: str) -> None:
    result = deploy({k: v for k, v in (env | overrides).items() if v is not None})

    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "hunter2-plain" not in result.stderr and "registry-pass" not in result.stderr
    assert api.api_calls() == []
