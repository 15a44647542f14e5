"""Promotion by digest: production takes only a digest that staging's deploy proved healthy.

The record is the staging job's own tags (rollout.record_healthy): healthy_digest, written after the health window
passed, and previous_healthy_digest, so a rollback to the digest before is allowed too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from deploy.databricks.job_spec import HEALTHY_TAGS, KEY_TAG
from deploy.databricks.rollout import DeployError, tagged
from deploy.databricks.settings import SettingsError

log = logging.getLogger("deploy-job")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def verify_staged(environ: Mapping[str, str], w: WorkspaceClient | None = None) -> int:
    digest = environ.get("IMAGE_DIGEST", "")
    if not DIGEST.match(digest):
        raise SettingsError(f"IMAGE_DIGEST={digest!r}: expected sha256:<64 hex>, the digest the push reported")
    if not (environ.get("DEPLOY_KEY") or environ.get("APP_ENV")):
        raise SettingsError("DEPLOY_KEY (or APP_ENV): which job's record to check")
    key = environ.get("DEPLOY_KEY") or f"ner-streaming-{environ['APP_ENV']}"
    w = w or WorkspaceClient(config=Config())
    jobs = tagged(w, key)
    if len(jobs) != 1:
        raise DeployError(f"{len(jobs)} jobs carry {KEY_TAG}={key} in {w.config.host}: expected one")
    tags = (jobs[0].settings.tags if jobs[0].settings else None) or {}
    record = {k: tags[k] for k in HEALTHY_TAGS if tags.get(k)}
    if digest not in record.values():
        raise DeployError(
            f"{digest} did not prove healthy on job {jobs[0].job_id} ({key}): its record is "
            f"{record or 'empty'}; deploy it to staging first"
        )
    which = next(k for k, v in record.items() if v == digest)
    log.info("%s is the %s of job %s (%s): promotable", digest, which, jobs[0].job_id, key)
    return 0
