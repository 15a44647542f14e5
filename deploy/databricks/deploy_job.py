"""Create or update the NER streaming job on Databricks, restart it, and wait until its run is RUNNING.

Usage: deploy-job.sh [--dry-run]   (or python -m deploy.databricks.deploy_job)
Exit status: 0 when the run is RUNNING (or the job is paused and stays so), 1 when the deploy failed, 2 on bad
settings (nothing was sent).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields

import requests

from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.errors import DatabricksError
from deploy.databricks import rollout
from deploy.databricks.job_spec import access_control_list, job_settings
from deploy.databricks.settings import DeploySettings, SettingsError

log = logging.getLogger("deploy-job")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deploy-job.sh", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_env_help())
    p.add_argument("--dry-run", action="store_true",
                   help="print the settings and the plan; sends only the reads a plan needs, no write")
    return p


def _env_help() -> str:
    lines = ["environment (the SDK reads DATABRICKS_HOST and DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID/SECRET):"]
    for f in fields(DeploySettings):
        if f.metadata["env"]:
            lines.append(f"  {f.metadata['env']:<38} {f.metadata['doc'] or ''} [default: {f.default!r}]")
    return "\n".join(lines)


def deploy(environ: Mapping[str, str], dry_run: bool = False, client: WorkspaceClient | None = None) -> int:
    s = DeploySettings.load(environ)
    log.info("settings: %s", s)
    w = client or WorkspaceClient(config=Config(retry_timeout_seconds=s.api_retry_timeout_seconds))
    job_id = rollout.find_job(w, s.job_name)
    pause = rollout.current_pause_status(w, job_id)
    settings = job_settings(s, pause_status=pause or "UNPAUSED")
    if dry_run:
        print(json.dumps(settings, indent=2, sort_keys=True))
        action = "create a job" if job_id is None else f"reset job {job_id}"
        restart = "leave it paused" if pause == "PAUSED" else "restart its run and wait until it is RUNNING"
        log.info("dry run: would %s named '%s', %s", action, s.job_name, restart)
        return 0
    created = job_id is None
    job_id = rollout.apply(w, job_id, settings, access_control_list(s))
    waits = rollout.Waits(s.timeout_seconds, s.poll_seconds, s.scheduler_grace_seconds)
    run_id = rollout.restart(w, job_id, settings, waits, created=created)
    if run_id is not None:
        rollout.wait_running(w, run_id, waits)
    log.info("deployed %s to job %s (%s)", s.image, job_id, s.job_name)
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="deploy-job: %(message)s", stream=sys.stderr)
    try:
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
