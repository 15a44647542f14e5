"""deploy.databricks.rollout on a real WorkspaceClient against the fake API: the paths the script's job never takes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config

from deploy.databricks import rollout
from test.helpers.deploy_env import TOKEN
from test.helpers.fake_jobs_api import FakeJobsApi

TRIGGERED = {
    "name": "ner-batch",
    "max_concurrent_runs": 1,
    "tasks": [{"task_key": "t", "spark_python_task": {"python_file": "x"}}],
}
WAITS = rollout.Waits(timeout_seconds=5, poll_seconds=0.01, scheduler_grace_seconds=0.1)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJobsApi]:
    for var in (
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    with FakeJobsApi(TOKEN) as fake:
        yield fake


def client(api: FakeJobsApi) -> WorkspaceClient:
    return WorkspaceClient(config=Config(host=api.url, token=TOKEN, retry_timeout_seconds=5))


def test_a_triggered_job_has_its_run_cancelled_and_waited_for_then_runs_now(api: FakeJobsApi) -> None:
    job_id = api.add_job(TRIGGERED)
    old = api.add_run(job_id)

    run_id = rollout.restart(client(api), job_id, TRIGGERED, WAITS)

    assert api.runs[old]["state"] == "TERMINATED"
    assert [c.path for c in api.writes()] == ["jobs/runs/cancel", "jobs/run-now"]
    assert api.paths().index("GET jobs/runs/get") < api.paths().index("POST jobs/run-now")  # waited for the cancel
    rollout.wait_running(client(api), run_id, WAITS)
    assert api.runs[run_id]["state"] == "RUNNING"


def test_a_just_unpaused_job_without_the_schedulers_run_gets_run_now_after_the_grace(api: FakeJobsApi) -> None:
    settings = TRIGGERED | {"continuous": {"pause_status": "UNPAUSED"}}
    job_id = api.add_job(settings)
    api.auto_start_continuous = False

    run_id = rollout.restart(client(api), job_id, settings, WAITS, unpaused=True)

    assert [c.path for c in api.writes()] == ["jobs/run-now"]
    assert [r["run_id"] for r in api.active_runs(job_id)] == [run_id]


def test_run_now_replaces_the_run_of_a_running_continuous_job(api: FakeJobsApi) -> None:
    settings = TRIGGERED | {"continuous": {"pause_status": "UNPAUSED"}}
    job_id = api.add_job(settings)
    old = api.add_run(job_id)

    new = rollout.restart(client(api), job_id, settings, WAITS)

    assert [c.path for c in api.writes()] == ["jobs/run-now"] and api.restarts == [(old, new)]
    assert [r["run_id"] for r in api.active_runs(job_id)] == [new]
