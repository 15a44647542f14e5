"""The deploy's health check: after the run is RUNNING, it must not end, and a micro-batch of it must commit.

Observed on the Pushgateway the job already pushes to (app/workers/metrics_push.py): the group job=METRICS_JOB
(the job's name), instance=driver, and its ner_last_batch_timestamp_seconds, set when a batch's progress is
reported. A timestamp later than the new run's start (and the old runs' end) can only be the new run's. Why not the
consumer group's committed offsets: the deploy would need the Kafka password, which only the cluster resolves (a
secret reference), and offsets stand still on an idle topic. Why not the run's state alone: a stream that cannot
log in to Kafka may stay RUNNING between retries; only a committed batch proves the data path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import requests

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import RunLifeCycleState
from deploy.databricks.rollout import DeployError, Waits, message

log = logging.getLogger("deploy-job")
LAST_BATCH = "ner_last_batch_timestamp_seconds"


class BatchProbe(Protocol):
    def last_batch(self) -> float | None:
        """Epoch seconds of the job's last reported micro-batch; None if none. Raises OSError when unreachable."""
        ...


@dataclass(frozen=True)
class Pushgateway:
    url: str
    job: str
    instance: str = "driver"
    username: str = ""
    password: str = ""
    timeout: float = 10.0

    def last_batch(self) -> float | None:
        auth = (self.username, self.password) if self.username else None
        try:
            reply = requests.get(f"{self.url.rstrip('/')}/api/v1/metrics", auth=auth, timeout=self.timeout)
            reply.raise_for_status()
            groups = reply.json()["data"]
        except (requests.RequestException, ValueError, KeyError) as e:
            raise OSError(f"Pushgateway {self.url}: {e}") from e
        for group in groups or []:
            if _labels(group) == (self.job, self.instance):
                samples = (group.get(LAST_BATCH) or {}).get("metrics") or []
                value = max((float(m["value"]) for m in samples), default=0.0)
                return value or None
        return None


def _labels(group: dict) -> tuple[str, str]:
    labels = group.get("labels") or {}
    return labels.get("job", ""), labels.get("instance", "")


def watch(
    w: WorkspaceClient,
    run_id: int,
    since: float,
    probe: BatchProbe,
    window: float,
    waits: Waits,
) -> float:
    """Watch the run for `window` seconds; the epoch time of the new run's first batch seen. Fails as soon as the run
    ends, and at the window's end if no batch later than `since` (epoch seconds) was reported."""
    deadline = waits.clock() + window
    seen: float | None = None
    last: float | None = None
    error = ""
    while True:
        run = w.jobs.get_run(run_id)
        state = run.state.life_cycle_state if run.state else None
        if state != RunLifeCycleState.RUNNING:
            where = state.value if state else "in no state"
            raise DeployError(f"run {run_id} is {where} within the health window ({window:.0f}s): {message(run)}")
        if seen is None:
            try:
                last, error = probe.last_batch(), ""
            except OSError as e:
                error = str(e)
            if last is not None and last > since:
                seen = last
                log.info("run %s committed a micro-batch %.0fs after it started", run_id, last - since)
        if waits.clock() >= deadline:
            break
        waits.sleep(min(waits.poll_seconds, waits.left(deadline)))
    if seen is None:
        before = f"the last batch reported is {since - last:.0f}s older than the run" if last else "none reported"
        raise DeployError(
            f"run {run_id}: no micro-batch of the new run committed within {window:.0f}s ({before}"
            f"{'; ' + error if error else ''}); the run is still RUNNING: see its driver log"
        )
    log.info("run %s stayed RUNNING for the %.0fs health window", run_id, window)
    return seen
