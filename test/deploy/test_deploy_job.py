"""deploy/databricks/deploy-job.sh against the strict fake Jobs API: create, reset, failures, dry run, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk.service.jobs import JobSettings

from .fake_jobs_api import FakeJobsApi

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "databricks" / "deploy-job.sh"
INIT_SCRIPT = ROOT / "deploy" / "databricks" / "init-script.sh"
TOKEN = "dapi-test-0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # unique, so any leak into output is unambiguous
DOCKER_PASSWORD = "registry-pass-7c1d"
NAME = "ner-streaming-stage"


@pytest.fixture
def api() -> Iterator[FakeJobsApi]:
    with FakeJobsApi(TOKEN) as fake:
        yield fake


def make_env(api: FakeJobsApi, **overrides: str | None) -> dict[str, str]:
    env: dict[str, str | None] = {
        "PATH": os.environ["PATH"],
        "DATABRICKS_HOST": api.url,
        "DATABRICKS_TOKEN": TOKEN,
        "CLUSTER_NAME": NAME,
        "IMAGE_NAME": "registry.example/ner",
        "IMAGE_TAG": "stage",
        "INSTANCE_TYPE": "m5.xlarge",
        "SPARK_VERSION": "17.3.x-scala2.13",
        "MIN_WORKERS": "1",
        "MAX_WORKERS": "4",
        "INIT_SCRIPTS_DESTINATION_S3": "s3://bucket/ner/init/",
        "LOG_DESTINATION_S3": "s3://bucket/ner/logs",
        "APP_ENV": "staging",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "DOCKER_USERNAME": "ci",
        "DOCKER_PASSWORD": DOCKER_PASSWORD,
        "DATABRICKS_API_RETRIES": "2",
        "DATABRICKS_API_BACKOFF_SECONDS": "0",
        "DATABRICKS_API_MAX_BACKOFF_SECONDS": "0",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def deploy(env: dict[str, str], *args: str, trace: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the script; every run also checks that no secret reached stdout or stderr."""
    cmd = ["bash", *(["-x"] if trace else []), str(SCRIPT), *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    for secret in (TOKEN, DOCKER_PASSWORD):
        assert secret not in result.stdout + result.stderr
    return result


def rendered(api: FakeJobsApi) -> dict:
    """The settings from the one create or reset call."""
    (call,) = [c for c in api.writes() if c.path in ("jobs/create", "jobs/reset")]
    return call.body if call.path == "jobs/create" else call.body["new_settings"]


def test_deploy_creates_and_starts_a_new_job(api: FakeJobsApi) -> None:
    result = deploy(make_env(api))

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.writes()] == ["jobs/create", "jobs/run-now"]
    (job_id,) = api.jobs
    (run,) = api.active_runs(job_id)
    assert run["settings"] == api.jobs[job_id]
    settings = api.jobs[job_id]
    assert settings["name"] == NAME
    assert settings["continuous"]["pause_status"] == "UNPAUSED"
    cluster = settings["tasks"][0]["new_cluster"]
    assert settings["tasks"][0]["spark_python_task"] == {"python_file": "file:/app/app/run.py"}
    assert cluster["docker_image"] == {"url": "registry.example/ner:stage",
                                       "basic_auth": {"username": "ci", "password": DOCKER_PASSWORD}}
    assert cluster["autoscale"] == {"min_workers": 1, "max_workers": 4}
    assert cluster["init_scripts"] == [{"s3": {"destination": "s3://bucket/ner/init/init-script.sh"}}]
    assert cluster["cluster_log_conf"] == {"s3": {"destination": "s3://bucket/ner/logs"}}
    assert cluster["spark_conf"] == {"spark.ui.prometheus.enabled": "true",
                                     "spark.databricks.aggressiveWindowDownS": "600"}
    assert cluster["spark_env_vars"] == {"APP_ENV": "staging", "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092"}
    assert cluster["aws_attributes"] == {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1,
                                         "spot_bid_price_percent": 100}


def test_deploy_optional_settings_are_rendered_as_strings(api: FakeJobsApi) -> None:
    env = make_env(api, MIN_WORKERS="3", MAX_WORKERS="3", INSTANCE_PROFILE_ARN="arn:aws:iam::1:instance-profile/ner",
                   AWS_REGION="us-east-1", SPARK_AGGRESSIVE_WINDOW_DOWN_S="300",
                   SPARK_AGGRESSIVE_FIRST_STEP_SCALE_UP_FRACTION="0.5", SPARK_AGGRESSIVE_FIRST_STEP_SCALE_UP_MAX="8",
                   SPARK_UI_PROMETHEUS_ENABLED="false", PUSHGATEWAY_URL="http://pushgateway:9091",
                   DOCKER_USERNAME=None, DOCKER_PASSWORD=None, SPOT_AVAILABILITY="ON_DEMAND", IMAGE_TAG=None)

    assert deploy(env).returncode == 0
    cluster = rendered(api)["tasks"][0]["new_cluster"]
    assert cluster["num_workers"] == 3 and "autoscale" not in cluster
    assert cluster["docker_image"] == {"url": "registry.example/ner"}
    assert cluster["aws_attributes"]["instance_profile_arn"] == "arn:aws:iam::1:instance-profile/ner"
    assert cluster["aws_attributes"]["availability"] == "ON_DEMAND"
    assert cluster["cluster_log_conf"] == {"s3": {"destination": "s3://bucket/ner/logs", "region": "us-east-1"}}
    assert cluster["spark_conf"] == {
        "spark.ui.prometheus.enabled": "false",
        "spark.databricks.aggressiveWindowDownS": "300",
        "spark.databricks.aggressiveFirstStepScaleUpFraction": "0.5",
        "spark.databricks.aggressiveFirstStepScaleUpMax": "8",
    }
    assert cluster["spark_env_vars"]["PUSHGATEWAY_URL"] == "http://pushgateway:9091"


def test_deploy_builds_the_image_reference_like_make_image_push(api: FakeJobsApi) -> None:
    env = make_env(api, IMAGE_REGISTRY="registry.example/ml/", IMAGE_NAME="ner-streaming", IMAGE_TAG="1.2.0")

    assert deploy(env).returncode == 0
    assert rendered(api)["tasks"][0]["new_cluster"]["docker_image"]["url"] == "registry.example/ml/ner-streaming:1.2.0"


def test_deploy_settings_survive_the_sdk_round_trip(api: FakeJobsApi) -> None:
    """A misspelt field would be dropped by JobSettings.from_dict, so the round trip would differ."""
    assert deploy(make_env(api, AWS_REGION="us-east-1", INSTANCE_PROFILE_ARN="arn:x")).returncode == 0
    settings = rendered(api)

    assert JobSettings.from_dict(settings).as_dict() == settings


def test_deploy_resets_and_restarts_an_existing_continuous_job(api: FakeJobsApi) -> None:
    job_id = api.add_job({"name": NAME, "tasks": [{"task_key": "old", "spark_python_task": {"python_file": "x"}}],
                          "continuous": {"pause_status": "UNPAUSED"}})
    old_run = api.add_run(job_id)

    result = deploy(make_env(api))

    assert result.returncode == 0, result.stderr
    # run-now restarts a continuous job itself; cancelling by hand would race with the scheduler.
    assert [c.path for c in api.writes()] == ["jobs/reset", "jobs/run-now"]
    assert list(api.jobs) == [job_id]
    assert api.runs[old_run]["state"] == "TERMINATED"
    (run,) = api.active_runs(job_id)
    assert run["settings"] == rendered(api) == api.jobs[job_id]


def test_deploy_treats_a_run_now_conflict_on_a_continuous_job_as_started(api: FakeJobsApi) -> None:
    api.run_now_conflicts = 1  # the scheduler triggered a run at the same moment

    result = deploy(make_env(api))

    assert result.returncode == 0, result.stderr
    assert "scheduler has just started a run" in result.stderr
    (job_id,) = api.jobs
    assert len(api.active_runs(job_id)) == 1


def test_deploy_cancels_active_runs_of_a_non_continuous_job(api: FakeJobsApi, tmp_path: Path) -> None:
    template = json.loads((SCRIPT.parent / "job.json").read_text())
    del template["continuous"]
    template["queue"] = {"enabled": True}
    (tmp_path / "job.json").write_text(json.dumps(template))
    job_id = api.add_job({"name": NAME, "tasks": [{"task_key": "old", "spark_python_task": {"python_file": "x"}}]})
    old_run = api.add_run(job_id)

    result = deploy(make_env(api, DATABRICKS_JOB_TEMPLATE=str(tmp_path / "job.json")))

    assert result.returncode == 0, result.stderr
    assert [c.path for c in api.writes()] == ["jobs/reset", "jobs/runs/cancel", "jobs/run-now"]
    assert api.runs[old_run]["state"] == "TERMINATED"
    (run,) = api.active_runs(job_id)
    assert run["settings"] == api.jobs[job_id] == rendered(api)


def test_deploy_finds_the_job_on_the_second_page(api: FakeJobsApi) -> None:
    # With the name filter ignored (as API 2.0 did), the list is every job, so ours can land on page 2; the script
    # must follow next_page_token and match the name itself.
    api.page_size, api.honour_name_filter = 2, False
    task = [{"task_key": "t", "spark_python_task": {"python_file": "x"}}]
    for name in ("other-1", f"{NAME}-canary", "other-3"):
        api.add_job({"name": name, "tasks": task})
    job_id = api.add_job({"name": NAME, "tasks": task})
    api.add_job({"name": "other-5", "tasks": task})

    result = deploy(make_env(api))

    assert result.returncode == 0, result.stderr
    pages = [c for c in api.calls if c.path == "jobs/list"]
    assert len(pages) == 3 and "page_token" in pages[1].query
    assert [c.path for c in api.writes()] == ["jobs/reset", "jobs/run-now"]
    assert api.writes()[0].body["job_id"] == job_id


def test_deploy_refuses_when_two_jobs_share_the_name(api: FakeJobsApi) -> None:
    task = [{"task_key": "t", "spark_python_task": {"python_file": "x"}}]
    ids = [api.add_job({"name": NAME, "tasks": task}), api.add_job({"name": NAME.upper(), "tasks": task})]

    result = deploy(make_env(api))

    assert result.returncode != 0
    assert f"2 jobs are named '{NAME}'" in result.stderr and all(str(i) in result.stderr for i in ids)
    assert api.writes() == []


def test_deploy_fails_after_bounded_retries_on_http_500(api: FakeJobsApi) -> None:
    api.fail(500, times=100)

    result = deploy(make_env(api, DATABRICKS_API_RETRIES="2"))

    assert result.returncode != 0
    assert "HTTP 500 after 3 attempt(s)" in result.stderr and "injected HTTP 500" in result.stderr
    assert api.paths() == ["GET jobs/list"] * 3


def test_deploy_does_not_retry_a_create_that_may_have_succeeded(api: FakeJobsApi) -> None:
    api.fail(503, path="jobs/create")

    result = deploy(make_env(api))

    assert result.returncode != 0
    assert "run the deploy again" in result.stderr
    assert [c.path for c in api.writes()] == ["jobs/create"]


def test_deploy_reports_rejected_credentials(api: FakeJobsApi) -> None:
    result = deploy(make_env(api, DATABRICKS_TOKEN="dapi-wrong"))

    assert result.returncode != 0
    assert "HTTP 401" in result.stderr and "rejected the credentials" in result.stderr
    assert api.paths() == ["GET jobs/list"]  # no retry


def test_deploy_reports_a_wrong_host_path(api: FakeJobsApi) -> None:
    result = deploy(make_env(api, DATABRICKS_HOST=f"{api.url}/not-databricks"))

    assert result.returncode != 0
    assert "HTTP 404" in result.stderr and "check DATABRICKS_HOST" in result.stderr


def test_deploy_retries_429_and_honours_retry_after(api: FakeJobsApi) -> None:
    api.fail(429, times=1, path="jobs/run-now", retry_after=1)

    started = time.monotonic()
    result = deploy(make_env(api, DATABRICKS_API_MAX_BACKOFF_SECONDS="5"))

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1
    assert "HTTP 429" in result.stderr and "retry 1/2 in 1s" in result.stderr
    assert [c.path for c in api.writes()] == ["jobs/create", "jobs/run-now", "jobs/run-now"]
    (job_id,) = api.jobs
    assert len(api.active_runs(job_id)) == 1


def test_deploy_dry_run_prints_the_plan_and_writes_nothing(api: FakeJobsApi) -> None:
    result = deploy(make_env(api), "--dry-run")

    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["name"] == NAME
    assert settings["tasks"][0]["new_cluster"]["docker_image"]["basic_auth"]["password"] == "***"
    assert "would POST jobs/create" in result.stderr and "jobs/run-now" in result.stderr
    assert api.paths() == ["GET jobs/list"]


def test_deploy_dry_run_of_an_existing_job_plans_a_reset(api: FakeJobsApi) -> None:
    job_id = api.add_job({"name": NAME, "tasks": [{"task_key": "t", "spark_python_task": {"python_file": "x"}}]})

    result = deploy(make_env(api), "--dry-run")

    assert result.returncode == 0
    assert f"would POST jobs/reset (job_id {job_id})" in result.stderr
    assert api.writes() == []


@pytest.mark.parametrize("missing", ["DATABRICKS_TOKEN", "CLUSTER_NAME", "LOG_DESTINATION_S3", "APP_ENV"])
def test_deploy_names_a_missing_variable_before_any_call(api: FakeJobsApi, missing: str) -> None:
    result = deploy(make_env(api, **{missing: None}))

    assert result.returncode != 0
    assert "missing required environment variable(s)" in result.stderr and missing in result.stderr
    assert api.calls == []


def test_deploy_names_every_missing_variable(api: FakeJobsApi) -> None:
    result = deploy({"PATH": os.environ["PATH"]})

    assert result.returncode != 0
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "IMAGE_NAME", "MIN_WORKERS", "INIT_SCRIPTS_DESTINATION_S3"):
        assert name in result.stderr


@pytest.mark.parametrize(("overrides", "message"), [
    ({"APP_ENV": "prod"}, "APP_ENV=prod: expected one of"),
    ({"MIN_WORKERS": "5"}, "MIN_WORKERS=5 is above MAX_WORKERS=4"),
    ({"MAX_WORKERS": "four"}, "MAX_WORKERS=four: expected a whole number"),
    ({"LOG_DESTINATION_S3": "bucket/logs"}, "LOG_DESTINATION_S3=bucket/logs: expected an s3:// URI"),
    ({"DOCKER_USERNAME": None}, "set both DOCKER_USERNAME and DOCKER_PASSWORD"),
    ({"ENV_FOR_DYNACONF": "production"}, "disagree"),
])
def test_deploy_rejects_bad_settings_before_any_call(api: FakeJobsApi, overrides: dict, message: str) -> None:
    result = deploy(make_env(api, **overrides))

    assert result.returncode != 0
    assert message in result.stderr
    assert api.calls == []


def test_deploy_accepts_deprecated_env_for_dynaconf(api: FakeJobsApi) -> None:
    result = deploy(make_env(api, APP_ENV=None, ENV_FOR_DYNACONF="production"))

    assert result.returncode == 0, result.stderr
    assert "ENV_FOR_DYNACONF is deprecated" in result.stderr
    assert rendered(api)["tasks"][0]["new_cluster"]["spark_env_vars"]["APP_ENV"] == "production"


def test_deploy_keeps_secrets_out_of_a_shell_trace(api: FakeJobsApi) -> None:
    """`deploy()` asserts the token and registry password are absent, here with `bash -x` on."""
    api.add_run(api.add_job({"name": NAME, "tasks": [{"task_key": "t", "spark_python_task": {"python_file": "x"}}]}))
    api.fail(500, times=1, path="jobs/reset")

    result = deploy(make_env(api), trace=True)

    assert result.returncode == 0, result.stderr
    assert "+ curl" in result.stderr  # the trace really was on


def test_deploy_init_script_enables_the_prometheus_servlet_once(tmp_path: Path) -> None:
    conf = tmp_path / "conf" / "metrics.properties"
    conf.parent.mkdir()
    conf.write_text("driver.sink.existing.class=Kept\n")
    env = {"PATH": os.environ["PATH"], "SPARK_METRICS_CONF": str(conf)}

    for _ in range(2):
        subprocess.run([str(INIT_SCRIPT)], env=env, check=True, capture_output=True, timeout=30)

    lines = conf.read_text().splitlines()
    assert "driver.sink.existing.class=Kept" in lines
    assert lines.count("*.sink.prometheusServlet.class=org.apache.spark.metrics.sink.PrometheusServlet") == 1
    assert "*.sink.prometheusServlet.path=/metrics/prometheus" in lines
