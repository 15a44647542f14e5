"""Put the job's settings in place and restart it, on databricks-sdk (auth, retries, paging are the SDK's).

Why a cancel and not run-now for a running continuous job: Databricks documents that a continuous job picks up new
settings when its run is cancelled, the scheduler then starting a new one ("Run jobs continuously"). run-now is for
a continuous job with no active run (it also resumes one waiting in backoff). A paused job stays paused.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import ResourceConflict
from databricks.sdk.service.jobs import JobAccessControlRequest, JobSettings, RunLifeCycleState

log = logging.getLogger("deploy-job")
WAITING = {RunLifeCycleState.PENDING, RunLifeCycleState.QUEUED, RunLifeCycleState.BLOCKED,
           RunLifeCycleState.WAITING_FOR_RETRY}


class DeployError(RuntimeError):
    """The deploy did not reach its goal; the message says where it stopped and why."""


@dataclass(frozen=True)
class Waits:
    timeout_seconds: float
    poll_seconds: float
    scheduler_grace_seconds: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def find_job(w: WorkspaceClient, name: str) -> int | None:
    """The one job with this name (the API's name filter is exact but case-insensitive, so is this check)."""
    ids = [j.job_id for j in w.jobs.list(name=name) if j.settings and (j.settings.name or "").lower() == name.lower()]
    if len(ids) > 1:
        raise DeployError(f"{len(ids)} jobs are named '{name}' (ids: {', '.join(map(str, ids))}); "
                          "delete the extra ones, nothing was changed")
    return ids[0] if ids else None


def current_pause_status(w: WorkspaceClient, job_id: int | None) -> str | None:
    """PAUSED or UNPAUSED as the job is now; None for a new job (or one that is not continuous)."""
    if job_id is None:
        return None
    job = w.jobs.get(job_id)
    cont = job.settings.continuous if job.settings else None
    return cont.pause_status.value if cont and cont.pause_status else None


def apply(w: WorkspaceClient, job_id: int | None, settings: dict[str, Any], acl: list[dict[str, str]]) -> int:
    typed = JobSettings.from_dict(settings)
    if job_id is None:
        job_id = w.jobs.create(**{k: getattr(typed, k) for k in settings}).job_id
        log.info("created job %s '%s'", job_id, settings["name"])
    else:
        w.jobs.reset(job_id, typed)
        log.info("reset job %s '%s'", job_id, settings["name"])
    if acl:
        w.jobs.set_permissions(str(job_id), access_control_list=[JobAccessControlRequest.from_dict(a) for a in acl])
        log.info("set permissions of job %s: %s", job_id, ", ".join(f"{a['group_name']}={a['permission_level']}"
                                                                   for a in acl))
    assert job_id is not None
    return job_id


def active_runs(w: WorkspaceClient, job_id: int) -> list[int]:
    return [r.run_id for r in w.jobs.list_runs(job_id=job_id, active_only=True) if r.run_id is not None]


def restart(w: WorkspaceClient, job_id: int, settings: dict[str, Any], waits: Waits,
            created: bool = False) -> int | None:
    """Get a run with the new settings going; its id, or None for a paused job (left paused, nothing started).
    A job just created has no old run: the scheduler's first run already has these settings."""
    continuous = settings.get("continuous")
    if continuous and continuous.get("pause_status") == "PAUSED":
        log.info("job %s is paused: its settings are updated and it stays paused (resume it to start a run)", job_id)
        return None
    old = [] if created else active_runs(w, job_id)
    deadline = waits.clock() + waits.timeout_seconds
    if continuous:
        for run_id in old:
            w.jobs.cancel_run(run_id)
            log.info("cancelled run %s: the continuous scheduler starts one with the new settings", run_id)
        return _scheduler_run(w, job_id, set(old), waits, deadline)
    for run_id in old:
        w.jobs.cancel_run(run_id).result(timeout=timedelta(seconds=_left(deadline, waits)))
        log.info("cancelled run %s", run_id)
    return _run_now(w, job_id)


def _run_now(w: WorkspaceClient, job_id: int) -> int:
    # The token makes the SDK's retry of this call safe: a repeat returns the same run.
    waiter = w.jobs.run_now(job_id, idempotency_token=f"deploy-{job_id}-{uuid.uuid4().hex[:16]}")
    run_id = waiter.run_id  # Wait exposes the response's fields
    assert run_id is not None
    log.info("started run %s of job %s", run_id, job_id)
    return run_id


def _scheduler_run(w: WorkspaceClient, job_id: int, old: set[int], waits: Waits, deadline: float) -> int:
    """The run the continuous scheduler starts after the cancel; run-now if none comes within the grace period."""
    asked = waits.clock() + waits.scheduler_grace_seconds
    while True:
        new = [r for r in active_runs(w, job_id) if r not in old]
        if new:
            log.info("the scheduler started run %s of job %s", new[0], job_id)
            return new[0]
        if waits.clock() >= deadline:
            raise DeployError(f"job {job_id}: no new run within {waits.timeout_seconds:.0f}s of the restart")
        if waits.clock() >= asked:
            try:
                return _run_now(w, job_id)
            except ResourceConflict:  # the scheduler started one at the same moment: pick it up on the next look
                log.info("run-now: the scheduler has just started a run")
                asked = float("inf")
        waits.sleep(min(waits.poll_seconds, _left(deadline, waits)))


def wait_running(w: WorkspaceClient, run_id: int, waits: Waits) -> None:
    """Success is the run RUNNING (cluster up, image pulled, task started), not the run accepted."""
    deadline = waits.clock() + waits.timeout_seconds
    while True:
        run = w.jobs.get_run(run_id)
        state = run.state.life_cycle_state if run.state else None
        message = (run.state.state_message if run.state else "") or ""
        if state == RunLifeCycleState.RUNNING:
            log.info("run %s is RUNNING: %s", run_id, run.run_page_url or "")
            return
        if state not in WAITING and state is not None:
            raise DeployError(f"run {run_id} is {state.value}, not RUNNING: {message or 'no state message'}")
        if waits.clock() >= deadline:
            where = state.value if state else "in no state"
            raise DeployError(f"run {run_id} is still {where} after {waits.timeout_seconds:.0f}s: "
                              f"{message or 'no state message'}")
        waits.sleep(min(waits.poll_seconds, _left(deadline, waits)))


def _left(deadline: float, waits: Waits) -> float:
    return max(0.0, deadline - waits.clock())
