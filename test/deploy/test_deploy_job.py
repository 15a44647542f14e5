"""deploy-job.sh (deploy_job.py on databricks-sdk) against the strict fake Jobs API: create, reset, restart, wait."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.jobs import JobAccessControlRequest, JobPermissionLevel, JobSettings

from test.helpers.deploy_env import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEPLOYER,
    DIGEST,
    KEY,
    NAME,
    SP,
    TOKEN,
    Pushgateway,
    deploy,
    make_env,
    rendered,
)
from test.helpers.fake_jobs_api import FakeJobsApi

OLD = {"name": NAME, "tasks": [{"task_key": "old", "spark_python_task": {"python_file": "x"}}]}
OTHER_DIGEST = "sha256:" + "4e" * 32


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    gw = Pushgateway(tmp_path_factory.mktemp("pushgateway"))
    yield gw
    gw.close()


@pytest.fixture
def api(gateway: Pushgateway) -> Iterator[FakeJobsApi]:
    with FakeJobsApi(TOKEN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        fake.on_running = lambda run: gateway.push_batch()  # the new run commits a micro-batch at once
        yield fake


@pytest.fixture
def env(api: FakeJobsApi, gateway: Pushgateway, tmp_path: Path) -> dict[str, str]:
    return make_env(api, tmp_path, gateway.url)


def running(api: FakeJobsApi, job_id: int) -> dict:
    (run,) = api.active_runs(job_id)
    assert run["state"] == "RUNNING"
    return run


def test_deploy_creates_a_job_and_proves_its_run_healthy(api: FakeJobsApi, env: dict) -> None:
    result = deploy(env)

    assert result.returncode == 0, result.stderr
    # created paused with its ACL, unpaused once known to be the only one, tagged healthy after the window
    assert [c.path for c in api.writes()] == ["jobs/create", "jobs/reset", "jobs/update"]
    assert api.writes()[0].body["continuous"]["pause_status"] == "PAUSED"
    (job_id,) = api.jobs
    assert "jobs/run-now" not in api.paths()  # the scheduler starts the run of a job it has just unpaused
    assert running(api, job_id)["settings"]["tasks"] == api.jobs[job_id]["tasks"]
    assert "committed a micro-batch" in result.stderr and "stayed RUNNING" in result.stderr
    settings = api.jobs[job_id]
    assert settings["continuous"] == {"pause_status": "UNPAUSED", "task_retry_mode": "ON_FAILURE"}
    assert settings["tags"] == {
        "app": "ner-streaming",
        "env": "staging",
        "deploy_key": KEY,
        "healthy_digest": DIGEST,
    }
    assert settings["run_as"] == {"service_principal_name": SP}
    assert api.permissions[job_id] == [
        {"service_principal_name": DEPLOYER, "permission_level": "IS_OWNER"},
        {"group_name": "ner-oncall", "permission_level": "CAN_MANAGE_RUN"},
        {"group_name": "data-eng", "permission_level": "CAN_VIEW"},
    ]
    assert settings["health"]["rules"] == [
        {"metric": "STREAMING_BACKLOG_SECONDS", "op": "GREATER_THAN", "value": 900},
        {"metric": "STREAMING_BACKLOG_RECORDS", "op": "GREATER_THAN", "value": 1_000_000},
    ]
    assert settings["webhook_notifications"] == {
        "on_streaming_backlog_exceeded": [{"id": "0f0e0d0c-oncall-destination"}]
    }
    cluster = settings["tasks"][0]["new_cluster"]
    assert cluster["num_workers"] == 2 and "autoscale" not in cluster  # fixed size for streaming
    assert cluster["docker_image"] == {"url": f"registry.example/ml/ner-streaming@{DIGEST}"}  # no stored creds
    assert cluster["data_security_mode"] == "SINGLE_USER" and cluster["single_user_name"] == SP
    assert cluster["spark_version"] == "17.3.x-scala2.13"
    assert "init_scripts" not in cluster
    assert cluster["spark_conf"]["spark.metrics.conf.*.sink.prometheusServlet.path"] == "/metrics/prometheus"
    assert cluster["spark_conf"]["spark.databricks.unityCatalog.volumes.enabled"] == "true"
    job_env = cluster["spark_env_vars"]
    assert job_env["KAFKA_SASL_PASSWORD"] == "{{secrets/ner-stage/kafka-password}}"
    assert job_env["CHECKPOINT_LOCATION"] == "/Volumes/ml/ner/checkpoints/stage"
    assert (job_env["INPUT_TOPIC"], job_env["RESULT_TOPIC"]) == ("ner-input", "ner-result")
    assert "KAFKA_JAAS_CLASS_PREFIX" not in job_env  # the job derives it on Databricks
    assert cluster["cluster_log_conf"] == {"s3": {"destination": "s3://bucket/ner/logs", "region": "eu-west-1"}}


def test_deploy_settings_survive_the_sdk_round_trip(api: FakeJobsApi, env: dict) -> None:
    """A misspelt field would be dropped by JobSettings.from_dict, so the round trip would differ."""
    env |= {
        "AWS_REGION": "us-east-1",
        "INSTANCE_PROFILE_ARN": "arn:aws:iam::1:instance-profile/ner",
        "DOCKER_PULL_USERNAME": "puller",
        "DOCKER_PULL_PASSWORD": "{{secrets/ner/registry}}",
    }
    assert deploy(env).returncode == 0
    settings = rendered(api)

    assert JobSettings.from_dict(settings).as_dict() == settings
    assert settings["tasks"][0]["new_cluster"]["docker_image"]["basic_auth"]["password"] == "{{secrets/ner/registry}}"


def test_deploy_autoscales_only_on_request(api: FakeJobsApi, env: dict) -> None:
    assert deploy(env | {"AUTOSCALE_MIN_WORKERS": "2", "AUTOSCALE_MAX_WORKERS": "8"}).returncode == 0

    cluster = rendered(api)["tasks"][0]["new_cluster"]
    assert cluster["autoscale"] == {"min_workers": 2, "max_workers": 8} and "num_workers" not in cluster


def test_deploy_restarts_a_running_continuous_job_with_run_now_never_a_cancel(api: FakeJobsApi, env: dict) -> None:
    """run-now replaces a continuous job's run in one call; cancel-then-run races the scheduler (cli PR #1849)."""
    job_id = api.add_job(OLD | {"continuous": {"pause_status": "UNPAUSED"}})
    old_run = api.add_run(job_id)

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.writes()] == [f"permissions/jobs/{job_id}", "jobs/reset", "jobs/run-now", "jobs/update"]
    ((replaced, new_run),) = api.restarts
    assert replaced == old_run and api.runs[old_run]["state"] == "TERMINATED"
    assert running(api, job_id)["run_id"] == new_run
    assert running(api, job_id)["settings"]["tasks"] == rendered(api)["tasks"] == api.jobs[job_id]["tasks"]


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
    assert [c.path for c in api.writes()][-2:] == ["jobs/run-now", "jobs/update"]
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
    (reset,) = [c for c in api.writes() if c.path == "jobs/reset"]
    assert reset.body["job_id"] == job_id and len(api.jobs) == 4


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


def test_deploy_dry_run_prints_a_diff_against_the_live_job_and_writes_nothing(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD | {"continuous": {"pause_status": "PAUSED"}})

    result = deploy(env, "--dry-run")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"--- job {job_id} (live)", "+++ new settings"]
    assert '-      "task_key": "old"' in lines and '+      "task_key": "ner"' in lines
    assert '   "name": "ner-streaming-stage",' in lines  # unchanged lines are context
    assert '+    "pause_status": "PAUSED",' in lines  # kept as it is live
    assert f"would update job {job_id}" in result.stderr and "leave it paused" in result.stderr
    assert api.writes() == []


def test_deploy_dry_run_of_a_new_job_diffs_against_nothing(api: FakeJobsApi, env: dict) -> None:
    result = deploy(env, "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("--- no job (created)\n+++ new settings\n")
    body = "".join(line[1:] for line in result.stdout.splitlines(keepends=True)[3:])
    assert json.loads(body)["name"] == NAME
    assert api.writes() == []


def test_deploy_help_names_every_variable(env: dict) -> None:
    result = deploy(env, "--help")

    assert result.returncode == 0
    for var in ("JOB_NAME", "DEPLOY_KEY", "JOB_OWNER", "AWS_REGION", "DEPLOY_HEALTH_SECONDS", "ALERT_DESTINATION_ID"):
        assert var in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"JOB_NAME": None}, "missing required environment variable(s): JOB_NAME"),
        ({"APP_ENV": "prod"}, "APP_ENV=prod: expected one of"),
        ({"KAFKA_SASL_PASSWORD": "hunter2-plain"}, "KAFKA_SASL_PASSWORD: a plain value would be stored"),
        ({"KAFKA_SSL_KEY_PEM": "-----BEGIN PRIVATE KEY-----"}, "KAFKA_SSL_KEY_PEM: a plain value would be stored"),
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
        ({"AWS_REGION": None}, "AWS_REGION: required for LOG_DESTINATION=s3://bucket/ner/logs"),
        ({"JOB_OWNER": None, "RUN_AS_SERVICE_PRINCIPAL": None, "APP_ENV": "development"}, "set JOB_OWNER"),
        ({"INPUT_TOPIC": None}, "INPUT_TOPIC: staging needs them in the job's environment"),
        ({"PUSHGATEWAY_URL": None}, "PUSHGATEWAY_URL"),
        ({"PUSHGATEWAY_USERNAME": "ner"}, "set both PUSHGATEWAY_USERNAME and PUSHGATEWAY_PASSWORD"),
        ({"KAFKA_SASL_USERNAME": None}, "set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        ({"DEPLOY_HEALTH_SECONDS": "0"}, "DEPLOY_HEALTH_SECONDS=0.0: staging deploys prove health"),
        ({"ALERT_DESTINATION_ID": None}, "ALERT_DESTINATION_ID: staging notifies someone"),
    ],
)
def test_deploy_rejects_bad_settings_before_any_call(
    api: FakeJobsApi, env: dict, overrides: dict, message: str
) -> None:
    result = deploy({k: v for k, v in (env | overrides).items() if v is not None})

    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "hunter2-plain" not in result.stderr and "registry-pass" not in result.stderr
    assert api.api_calls() == []


# --- issue 24: each defect of the path to production, as a scenario -------------------------------------------------


def test_deploy_fails_when_the_stream_dies_after_running(api: FakeJobsApi, env: dict) -> None:
    """SASL on Databricks without the shaded login module: RUNNING, then the query fails. Not a success."""
    api.on_running = lambda run: None
    api.run_lifetime_polls, api.run_end_message = 1, "No LoginModule found for org.apache.kafka.common.security"

    result = deploy(env | {"DEPLOY_HEALTH_SECONDS": "5"})

    assert result.returncode == 1
    assert "is TERMINATED within the health window" in result.stderr and "No LoginModule found" in result.stderr
    assert "healthy_digest" not in api.jobs[next(iter(api.jobs))]["tags"]


def test_deploy_fails_when_no_batch_of_the_new_run_commits(api: FakeJobsApi, env: dict) -> None:
    api.on_running = lambda run: None  # RUNNING, but the stream never completes a batch

    result = deploy(env)

    assert result.returncode == 1
    assert "no micro-batch of the new run committed within 0s" in result.stderr


def test_deploy_does_not_count_the_old_runs_batch(api: FakeJobsApi, env: dict, gateway: Pushgateway) -> None:
    job_id = api.add_job(OLD | {"continuous": {"pause_status": "UNPAUSED"}, "tags": {"deploy_key": KEY}})
    api.add_run(job_id)
    gateway.push_batch()  # the old run's last batch, before the restart
    api.on_running = lambda run: None

    result = deploy(env)

    assert result.returncode == 1
    assert "no micro-batch of the new run committed" in result.stderr and "older than the run" in result.stderr


def test_deploy_names_exactly_one_owner_and_a_refused_acl_changes_nothing(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD | {"tags": {"deploy_key": KEY}})
    assert deploy(env).returncode == 0
    (acl,) = [c.body["access_control_list"] for c in api.writes() if c.path.startswith("permissions/")]
    assert [a for a in acl if a["permission_level"] == "IS_OWNER"] == [
        {"service_principal_name": DEPLOYER, "permission_level": "IS_OWNER"}
    ]

    before = api.jobs[job_id]
    api.calls.clear()
    api.fail(400, path=f"permissions/jobs/{job_id}")
    assert deploy(env | {"IMAGE_DIGEST": OTHER_DIGEST}).returncode == 1
    assert api.jobs[job_id] == before and [c.path for c in api.writes()] == [f"permissions/jobs/{job_id}"]


def test_the_fake_refuses_an_acl_without_one_owner(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD)
    w = WorkspaceClient(config=Config(host=api.url, token=TOKEN, retry_timeout_seconds=5))
    groups = [JobAccessControlRequest(group_name="ner-oncall", permission_level=JobPermissionLevel.CAN_MANAGE_RUN)]

    with pytest.raises(DatabricksError, match="The job must have exactly one owner"):
        w.jobs.set_permissions(str(job_id), access_control_list=groups)


def test_the_fake_refuses_an_s3_log_destination_without_region(api: FakeJobsApi) -> None:
    settings = {
        **OLD,
        "tasks": [
            {
                **OLD["tasks"][0],
                "new_cluster": {
                    "spark_version": "17.3.x-scala2.13",
                    "num_workers": 1,
                    "cluster_log_conf": {"s3": {"destination": "s3://b/logs"}},
                },
            }
        ],
    }
    w = WorkspaceClient(config=Config(host=api.url, token=TOKEN, retry_timeout_seconds=5))

    with pytest.raises(DatabricksError, match="Either region or endpoint must be set"):
        w.jobs.create(**{k: getattr(JobSettings.from_dict(settings), k) for k in settings})


def test_the_fake_refuses_a_field_the_sdk_types_do_not_have(api: FakeJobsApi) -> None:
    job_id = api.add_job(OLD)
    w = WorkspaceClient(config=Config(host=api.url, token=TOKEN, retry_timeout_seconds=5))
    body = {"job_id": job_id, "new_settings": {**OLD, "continuous": {"pause_status": "UNPAUSED", "paused": True}}}

    with pytest.raises(DatabricksError, match=r"new_settings.continuous.paused: not a field"):
        w.api_client.do("POST", "/api/2.2/jobs/reset", body=body)
    with pytest.raises(DatabricksError, match=r"pause_status: .* cannot hold \('RUNNING'\)"):
        w.api_client.do(
            "POST",
            "/api/2.2/jobs/reset",
            body={**body, "new_settings": {**OLD, "continuous": {"pause_status": "RUNNING"}}},
        )


def test_deploy_renames_the_tagged_job_instead_of_creating_a_second(api: FakeJobsApi, env: dict) -> None:
    job_id = api.add_job(OLD | {"name": "ner-streaming-stage-old", "tags": {"deploy_key": KEY}})

    result = deploy(env)

    assert result.returncode == 0, result.stderr
    assert list(api.jobs) == [job_id] and api.jobs[job_id]["name"] == NAME
    assert "renamed from 'ner-streaming-stage-old'" in result.stderr


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([OLD | {"name": "old", "tags": {"deploy_key": KEY}}, OLD], "cannot rename job 1001 to 'ner-streaming-stage'"),
        ([OLD | {"tags": {"deploy_key": KEY}}, OLD | {"name": "x", "tags": {"deploy_key": KEY}}], "2 jobs carry"),
        ([OLD | {"tags": {"deploy_key": "ner-streaming-production"}}], "belongs to deploy_key=ner-streaming-prod"),
    ],
)
def test_deploy_refuses_an_ambiguous_job(api: FakeJobsApi, env: dict, jobs: list[dict], message: str) -> None:
    for job in jobs:
        api.add_job(job)

    result = deploy(env)

    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert api.writes() == []


def test_two_first_deploys_at_once_leave_one_job(api: FakeJobsApi, env: dict) -> None:
    """The other deploy's create lands first: ours sees two tagged jobs, deletes its own (paused, never run)."""
    other = OLD | {"tags": {"deploy_key": KEY}, "continuous": {"pause_status": "PAUSED"}}
    api.before_create = lambda: api.jobs.update({api._new_id(): copy.deepcopy(other)})

    result = deploy(env)

    assert result.returncode == 1 and "a concurrent deploy created job 1001" in result.stderr, result.stderr
    assert list(api.jobs) == [1001] and [c.path for c in api.writes()] == ["jobs/create", "jobs/delete"]
    assert not any(r["job_id"] == 1002 for r in api.runs.values())  # ours never ran


def test_deploy_fails_when_the_run_carries_another_deploys_image(api: FakeJobsApi, env: dict) -> None:
    def concurrent_reset(run: dict) -> None:
        run["settings"]["tasks"][0]["new_cluster"]["docker_image"]["url"] = f"registry.example/x@{OTHER_DIGEST}"

    api.on_running = concurrent_reset

    result = deploy(env)

    assert result.returncode == 1 and f"runs registry.example/x@{OTHER_DIGEST}, not" in result.stderr


def test_deploys_record_the_healthy_digest_and_the_one_before(api: FakeJobsApi, env: dict) -> None:
    assert deploy(env).returncode == 0
    assert deploy(env | {"IMAGE_DIGEST": OTHER_DIGEST}).returncode == 0

    (tags,) = [s["tags"] for s in api.jobs.values()]
    assert (tags["healthy_digest"], tags["previous_healthy_digest"]) == (OTHER_DIGEST, DIGEST)


@pytest.mark.parametrize(
    ("digest", "code", "message"),
    [
        (DIGEST, 0, "is the healthy_digest of job"),
        ("sha256:" + "00" * 32, 1, "did not prove healthy on job"),
        ("latest", 2, "IMAGE_DIGEST='latest': expected sha256:"),
    ],
)
def test_verify_staged_passes_only_a_digest_staging_proved_healthy(
    api: FakeJobsApi, env: dict, digest: str, code: int, message: str
) -> None:
    assert deploy(env).returncode == 0

    result = deploy({**env, "IMAGE_DIGEST": digest}, "--verify-staged")

    assert result.returncode == code and message in result.stderr, result.stderr
