"""Put the job's settings in place and restart it, on databricks-sdk (auth, retries, paging are the SDK's).

The restart is the API's own: run-now on an unpaused continuous job cancels its active run and starts one with the
new settings, in one call. Cancel-then-run-now races the continuous scheduler, which starts its own run after the
cancel: two clusters on one checkpoint (the Databricks CLI dropped it for that, databricks/cli PR #1849). A paused
job stays paused.
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
from databricks.sdk.service.jobs import JobAccessControlRequest, JobSettings, Run, RunLifeCycleState
from deploy.databricks.job_spec import HEALTHY_TAGS, KEY_TAG

log = logging.getLogger("deploy-job")
WAITING = {
    RunLifeCycleState.PENDING,
    RunLifeCycleState.QUEUED,
    RunLifeCycleState.BLOCKED,
    RunLifeCycleState.WAITING_FOR_RETRY,
}


class DeployError(RuntimeError):
    """The deploy did not reach its goal; the message says where it stopped and why."""


@dataclass(frozen=True)
class Waits:
    timeout_seconds: float
    poll_seconds: float
    scheduler_grace_seconds: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def left(self, deadline: float) -> float:
        return max(0.0, deadline - self.clock())


@dataclass(frozen=True)
class Found:
    job_id: int
    settings: dict[str, Any]  # the live job's full settings

    @property
    def pause_status(self) -> str | None:
        return (self.settings.get("continuous") or {}).get("pause_status")

    def healthy_tags(self) -> dict[str, str]:
        tags = self.settings.get("tags") or {}
        return {k: tags[k] for k in HEALTHY_TAGS if tags.get(k)}


def _tag(job: Any, key: str = KEY_TAG) -> str:
    return ((job.settings.tags if job.settings else None) or {}).get(key, "")


def tagged(w: WorkspaceClient, key: str) -> list[Any]:
    """Jobs carrying deploy_key=key, oldest first (the API has no tag filter: the SDK pages through all jobs)."""
    jobs = [j for j in w.jobs.list() if _tag(j) == key]
    return sorted(jobs, key=lambda j: (j.created_time or 0, j.job_id or 0))


def locate(w: WorkspaceClient, key: str, name: str) -> Found | None:
    """The job deployed under `key`: by its tag, or (a job deployed before the tag) by its exact name.

    A rename is carried out (the tagged job gets the new name), never a second job; it is refused when another job
    has the new name. Two jobs with the tag, or with the name and no tag: refused, nothing is changed."""
    jobs = list(w.jobs.list())
    mine = [j for j in jobs if _tag(j) == key]
    named = [j for j in jobs if j.settings and (j.settings.name or "").lower() == name.lower()]
    if len(mine) > 1:
        ids = ", ".join(str(j.job_id) for j in mine)
        raise DeployError(
            f"{len(mine)} jobs carry {KEY_TAG}={key} (ids: {ids}); delete the extra ones, nothing was changed"
        )
    if mine:
        others = [j for j in named if j.job_id != mine[0].job_id]
        if others:
            raise DeployError(
                f"cannot rename job {mine[0].job_id} to '{name}': job {others[0].job_id} has that name; "
                "nothing was changed"
            )
        found = mine[0]
    elif len(named) > 1:
        raise DeployError(
            f"{len(named)} jobs are named '{name}' (ids: {', '.join(str(j.job_id) for j in named)}); "
            "delete the extra ones, nothing was changed"
        )
    elif named and _tag(named[0]):
        raise DeployError(
            f"job {named[0].job_id} '{name}' belongs to {KEY_TAG}={_tag(named[0])}, not {key}; nothing was changed"
        )
    elif named:
        found = named[0]
        log.info("job %s '%s' has no %s tag yet: it gets %s", found.job_id, name, KEY_TAG, key)
    else:
        return None
    assert found.job_id is not None
    job = w.jobs.get(found.job_id)
    current = job.settings.as_dict() if job.settings else {}
    if current.get("name") != name:
        log.info("job %s is renamed from '%s' to '%s'", found.job_id, current.get("name"), name)
    return Found(found.job_id, current)


def create(w: WorkspaceClient, settings: dict[str, Any], acl: list[dict[str, str]], key: str) -> int:
    """Create the job paused (its ACL in the same call), then make sure it is the only one with the key.

    Why: the Jobs API has no compare-and-set, so a lock tag can be taken twice; creation can be checked instead.
    Two first deploys at once both create; each lists the tagged jobs after its create, and the oldest (created
    time, then id) is the job: the other deploy deletes its own, still paused and never run, and fails."""
    paused = {**settings, "continuous": {**settings["continuous"], "pause_status": "PAUSED"}}
    typed = JobSettings.from_dict(paused)
    access = [JobAccessControlRequest.from_dict(a) for a in acl] or None
    job_id = w.jobs.create(**{k: getattr(typed, k) for k in paused}, access_control_list=access).job_id
    assert job_id is not None
    log.info("created job %s '%s' (paused until it is known to be the only one)", job_id, settings["name"])
    first = tagged(w, key)[0].job_id
    if first != job_id:
        w.jobs.delete(job_id)
        raise DeployError(
            f"a concurrent deploy created job {first} with {KEY_TAG}={key}; deleted ours ({job_id}), deploy again"
        )
    return job_id


def update(w: WorkspaceClient, job_id: int, settings: dict[str, Any], acl: list[dict[str, str]]) -> None:
    """Permissions first: a refused ACL leaves the job as it was, never half-applied."""
    if acl:
        w.jobs.set_permissions(str(job_id), access_control_list=[JobAccessControlRequest.from_dict(a) for a in acl])
        log.info("set permissions of job %s: %s", job_id, ", ".join(f"{_who(a)}={a['permission_level']}" for a in acl))
    w.jobs.reset(job_id, JobSettings.from_dict(settings))
    log.info("reset job %s '%s'", job_id, settings["name"])


def _who(entry: dict[str, str]) -> str:
    return next(v for k, v in entry.items() if k != "permission_level")


def active_runs(w: WorkspaceClient, job_id: int) -> list[int]:
    return [r.run_id for r in w.jobs.list_runs(job_id=job_id, active_only=True) if r.run_id is not None]


def restart(
    w: WorkspaceClient, job_id: int, settings: dict[str, Any], waits: Waits, unpaused: bool = False
) -> int | None:
    """Get a run with the new settings going; its id, or None for a paused job (left paused, nothing started).

    `unpaused`: the job was paused until this deploy's reset (a new job), so the continuous scheduler starts its
    run; run-now only if none comes within the grace period (run-now would restart it, not add one)."""
    continuous = settings.get("continuous")
    if continuous and continuous.get("pause_status") == "PAUSED":
        log.info("job %s is paused: its settings are updated and it stays paused (resume it to start a run)", job_id)
        return None
    if continuous and unpaused:
        return _scheduler_run(w, job_id, waits) or _run_now(w, job_id)
    if not continuous:  # a triggered job: run-now would queue behind the old run
        for run_id in active_runs(w, job_id):
            w.jobs.cancel_run(run_id).result(timeout=timedelta(seconds=waits.timeout_seconds))
            log.info("cancelled run %s", run_id)
    return _run_now(w, job_id)


def _run_now(w: WorkspaceClient, job_id: int) -> int:
    # The token makes the SDK's retry of this call safe: a repeat returns the same run.
    waiter = w.jobs.run_now(job_id, idempotency_token=f"deploy-{job_id}-{uuid.uuid4().hex[:16]}")
    run_id = waiter.run_id  # Wait exposes the response's fields
    assert run_id is not None
    log.info("run-now: run %s of job %s (a running continuous job's run is replaced by it)", run_id, job_id)
    return run_id


def _scheduler_run(w: WorkspaceClient, job_id: int, waits: Waits) -> int | None:
    deadline = waits.clock() + waits.scheduler_grace_seconds
    while True:
        runs = active_runs(w, job_id)
        if runs:
            log.info("the scheduler started run %s of job %s", runs[0], job_id)
            return runs[0]
        if waits.clock() >= deadline:
            return None
        waits.sleep(min(waits.poll_seconds, waits.left(deadline)))


def wait_running(w: WorkspaceClient, run_id: int, waits: Waits) -> Run:
    """The run RUNNING (cluster up, image pulled, task started): where the health check starts."""
    deadline = waits.clock() + waits.timeout_seconds
    while True:
        run = w.jobs.get_run(run_id)
        state = run.state.life_cycle_state if run.state else None
        if state == RunLifeCycleState.RUNNING:
            log.info("run %s is RUNNING: %s", run_id, run.run_page_url or "")
            return run
        if state not in WAITING and state is not None:
            raise DeployError(f"run {run_id} is {state.value}, not RUNNING: {message(run)}")
        if waits.clock() >= deadline:
            where = state.value if state else "in no state"
            raise DeployError(f"run {run_id} is still {where} after {waits.timeout_seconds:.0f}s: {message(run)}")
        waits.sleep(min(waits.poll_seconds, waits.left(deadline)))


def message(run: Run) -> str:
    state = run.state
    result = state.result_state.value + ": " if state and state.result_state else ""
    return result + ((state.state_message if state else "") or "no state message")


def check_image(run: Run, image: str) -> None:
    """The run we report runs our image: a concurrent deploy's reset between ours and our run-now would not."""
    urls = {t.new_cluster.docker_image.url for t in run.tasks or [] if t.new_cluster and t.new_cluster.docker_image}
    if urls and urls != {image}:
        raise DeployError(
            f"run {run.run_id} runs {', '.join(sorted(map(str, urls)))}, not {image}: another deploy "
            "changed the job meanwhile; deploy again"
        )


def record_healthy(w: WorkspaceClient, job_id: int, tags: dict[str, str], image: str) -> None:
    """Tag the job with the digest that proved healthy (and the one before it): what promotion checks."""
    if "@sha256:" not in image:
        return
    digest = image.rsplit("@", 1)[1]
    new = dict(tags)
    if tags.get("healthy_digest") not in (None, digest):
        new["previous_healthy_digest"] = tags["healthy_digest"]
    new["healthy_digest"] = digest
    w.jobs.update(job_id, new_settings=JobSettings(tags=new))
    log.info("job %s: healthy_digest=%s", job_id, digest)
