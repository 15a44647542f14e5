"""Create or update the NER streaming job on Databricks, restart it, and prove the new run healthy.

Usage: deploy-job.sh [--dry-run | --verify-staged]   (or python -m deploy.databricks.deploy_job)
Exit status: 0 when the new run is RUNNING and committed a micro-batch within the health window (or the job is
paused and stays so), 1 when the deploy failed, 2 on bad settings (nothing was sent).
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any

import requests

from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.errors import DatabricksError
from deploy.databricks import health, promotion, rollout
from deploy.databricks.job_spec import JobValues, access_control_list, job_settings
from deploy.databricks.settings import DeploySettings, SettingsError

log = logging.getLogger("deploy-job")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deploy-job.sh",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_env_help(),
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="print a unified diff of the live job's settings against the new ones and the plan; reads only",
    )
    mode.add_argument(
        "--verify-staged",
        action="store_true",
        help="exit 0 only if the job of DEPLOY_KEY (or APP_ENV) in this workspace proved IMAGE_DIGEST healthy",
    )
    return p


def _env_help() -> str:
    lines = ["environment (the SDK reads DATABRICKS_HOST and DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID/SECRET):"]
    for f in fields(DeploySettings):
        if f.metadata["env"]:
            default = "required" if f.default is MISSING else f"default: {f.default!r}"
            lines.append(f"  {f.metadata['env']:<38} {f.metadata['doc'] or ''} [{default}]")
    return "\n".join(lines)


def client(s_retry: int) -> WorkspaceClient:
    return WorkspaceClient(config=Config(retry_timeout_seconds=s_retry))


def deploy(environ: Mapping[str, str], dry_run: bool = False, w: WorkspaceClient | None = None) -> int:
    s = DeploySettings.load(environ)
    log.info("settings: %s", s)
    w = w or client(s.api_retry_timeout_seconds)
    found = rollout.locate(w, s.key, s.job_name)
    pause = (found.pause_status if found else None) or "UNPAUSED"
    values = JobValues.from_settings(s, pause, found.healthy_tags() if found else None)
    settings, acl = job_settings(values), access_control_list(s)
    if dry_run:
        sys.stdout.write(diff(found.settings if found else {}, settings, found.job_id if found else None))
        action = "create a job" if found is None else f"update job {found.job_id}"
        restart = "leave it paused" if pause == "PAUSED" else "run-now it and watch the new run's health"
        log.info("dry run: would %s named '%s' (%s), %s", action, s.job_name, s.key, restart)
        return 0
    waits = rollout.Waits(s.timeout_seconds, s.poll_seconds, s.scheduler_grace_seconds)
    if found is None:
        job_id, old = rollout.create(w, settings, acl, s.key), []
        rollout.update(w, job_id, settings, [])  # now known to be the only one: unpause
    else:
        job_id, old = found.job_id, rollout.active_runs(w, found.job_id)
        rollout.update(w, job_id, settings, acl)
    run_id = rollout.restart(w, job_id, settings, waits, unpaused=found is None)
    if run_id is None:
        return 0
    run = rollout.wait_running(w, run_id, waits)
    rollout.check_image(run, s.image)
    if s.health_seconds:
        probe = health.Pushgateway(
            s.deploy_pushgateway_url or s.env_vars["PUSHGATEWAY_URL"],
            s.job_name,
            "driver",
            s.deploy_pushgateway_username,
            s.deploy_pushgateway_password,
        )
        health.watch(w, run_id, _since(w, run, old), probe, s.health_seconds, waits)
        rollout.record_healthy(w, job_id, settings["tags"], s.image)
    log.info("deployed %s to job %s (%s)", s.image, job_id, s.job_name)
    return 0


def _since(w: WorkspaceClient, run: Any, old: list[int]) -> float:
    """Epoch seconds after which a reported batch can only be the new run's: its start, and the old runs' end."""
    ends = [w.jobs.get_run(r).end_time or time.time() * 1000 for r in old if r != run.run_id]
    return max([run.start_time or 0, *ends]) / 1000


def diff(current: dict[str, Any], new: dict[str, Any], job_id: int | None) -> str:
    """A unified diff of the live settings (none for a new job) against the new ones, keys sorted."""
    before = json.dumps(current, indent=2, sort_keys=True).splitlines(keepends=True) if current else []
    after = json.dumps(new, indent=2, sort_keys=True).splitlines(keepends=True)
    live = f"job {job_id} (live)" if job_id is not None else "no job (created)"
    lines = list(difflib.unified_diff(before, [*after[:-1], after[-1] + "\n"], live, "new settings"))
    return "".join(lines) or f"job {job_id}: no change\n"


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="deploy-job: %(message)s", stream=sys.stderr)
    try:
        if args.verify_staged:
            return promotion.verify_staged(environ)
        return deploy(environ, dry_run=args.dry_run)
    except SettingsError as e:
        log.error("ERROR: %s", e)
        return 2
    except (DatabricksError, rollout.DeployError, requests.RequestException, TimeoutError) as e:
        log.error("ERROR: %s", e)
        return 1
    except ValueError as e:  # the SDK's config errors, and a reply that is not JSON (an HTML page with 200)
        log.error("ERROR: %s: %s", type(e).__name__, e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
