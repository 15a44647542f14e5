"""The deploy settings' cross-field rules: each failure names the environment variable and what is expected."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.settings import ENVIRONMENTS as APP_ENVS
from app.settings_fields import SettingsError

if TYPE_CHECKING:
    from deploy.databricks.settings import DeploySettings

SECRET_REF = re.compile(r"^\{\{secrets/[\w.\-]+/[\w.\-]+\}\}$")
# Storage the job may write to: Unity Catalog volumes or S3. Never the DBFS root (workspace-wide, not governed).
STORAGE = re.compile(r"^(s3://[a-z0-9.\-]{3,63}/.+|/Volumes/[^/]+/[^/]+/[^/]+/.+)$")
PERMISSION_LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE")
# What the job needs in staging and production: the app's defaults (local topics, no broker) would run, wrongly.
REQUIRED_JOB_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "INPUT_TOPIC", "RESULT_TOPIC", "DEAD_LETTER_TOPIC", "PUSHGATEWAY_URL")
SECRET_VARS = (
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_KEY_PEM",
    "KAFKA_SSL_KEY_PASSWORD",
    "PUSHGATEWAY_PASSWORD",
    "DOCKER_PULL_PASSWORD",
)
DIGEST_ENVS = ("staging", "production")  # where the image must be pinned by digest: what runs is what was tested


def _fail(message: str) -> None:
    raise SettingsError(message)


def validate(s: DeploySettings) -> None:
    if s.app_env not in APP_ENVS:
        _fail(f"APP_ENV={s.app_env}: expected one of {', '.join(APP_ENVS)}")
    if s.app_env in DIGEST_ENVS and "@sha256:" not in s.image:
        _fail(f"IMAGE={s.image}: {s.app_env} deploys an image by digest (IMAGE_DIGEST=sha256:...), not by tag")
    _workers(s)
    _storage_and_secrets(s)
    _identity(s)
    if s.spot_availability not in ("SPOT", "ON_DEMAND", "SPOT_WITH_FALLBACK"):
        _fail(f"SPOT_AVAILABILITY={s.spot_availability}: expected SPOT, ON_DEMAND or SPOT_WITH_FALLBACK")
    for name, number in (("DEPLOY_TIMEOUT_SECONDS", s.timeout_seconds), ("DEPLOY_POLL_SECONDS", s.poll_seconds)):
        if number <= 0:
            _fail(f"{name}={number}: expected a positive number")
    _owner_and_region(s)
    _job_env(s)
    _health(s)


def _storage_and_secrets(s: DeploySettings) -> None:
    for var, value in (("CHECKPOINT_LOCATION", s.checkpoint_location), ("LOG_DESTINATION", s.log_destination)):
        if not STORAGE.match(value):
            _fail(
                f"{var}={value}: expected s3://bucket/path or /Volumes/<catalog>/<schema>/<volume>/path "
                "(not the DBFS root)"
            )
    secrets = dict(s.spark_env) | {"DOCKER_PULL_PASSWORD": s.docker_pull_password}
    for var in SECRET_VARS:
        if secrets.get(var) and not SECRET_REF.match(secrets[var]):
            # Never echo the value: it may be the password itself.
            _fail(
                f"{var}: a plain value would be stored in the job's settings; give a Databricks secret "
                "reference instead, {{secrets/<scope>/<key>}}"
            )
    if bool(s.docker_pull_username) != bool(s.docker_pull_password):
        _fail("set both DOCKER_PULL_USERNAME and DOCKER_PULL_PASSWORD, or neither (ECR: the instance profile pulls)")


def _identity(s: DeploySettings) -> None:
    if s.run_as_service_principal and s.run_as_user:
        _fail("set RUN_AS_SERVICE_PRINCIPAL or RUN_AS_USER, not both")
    if s.app_env in DIGEST_ENVS and not s.run_as:
        _fail(f"{s.app_env} runs as a service principal: set RUN_AS_SERVICE_PRINCIPAL (its application id)")
    for group, level in s.permissions:
        if not group or level not in PERMISSION_LEVELS:
            _fail(
                f"JOB_PERMISSIONS: {group}={level}: expected group=LEVEL with LEVEL one of "
                f"{', '.join(PERMISSION_LEVELS)}"
            )


def _owner_and_region(s: DeploySettings) -> None:
    # The permissions API replaces the job's whole ACL and refuses one without exactly one owner (a user or a
    # service principal, never a group).
    if s.permissions and not s.owner:
        _fail("JOB_PERMISSIONS: set JOB_OWNER (the deploy principal) or a run-as principal: a job has one owner")
    if any(group == s.owner for group, _ in s.permissions):
        _fail(f"JOB_PERMISSIONS: {s.owner} is JOB_OWNER already (IS_OWNER); give groups only")
    # ClusterLogConf: an S3 destination needs its region (or endpoint); the API refuses it without.
    if s.log_destination.startswith("s3://") and not s.aws_region:
        _fail(f"AWS_REGION: required for LOG_DESTINATION={s.log_destination} (the S3 bucket's region)")


def _job_env(s: DeploySettings) -> None:
    job_env = s.env_vars
    if s.app_env in DIGEST_ENVS:
        missing = [v for v in REQUIRED_JOB_ENV if not job_env.get(v)]
        if missing:
            _fail(
                f"{', '.join(missing)}: {s.app_env} needs them in the job's environment (the app's defaults are local)"
            )
    if job_env.get("KAFKA_SECURITY_PROTOCOL", "").startswith("SASL") and not (
        job_env.get("KAFKA_SASL_USERNAME") and job_env.get("KAFKA_SASL_PASSWORD")
    ):
        _fail("KAFKA_SECURITY_PROTOCOL=SASL_*: set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (a secret reference)")
    if bool(job_env.get("PUSHGATEWAY_USERNAME")) != bool(job_env.get("PUSHGATEWAY_PASSWORD")):
        _fail("set both PUSHGATEWAY_USERNAME and PUSHGATEWAY_PASSWORD (a secret reference), or neither")
    if job_env.get("PUSHGATEWAY_USERNAME") and job_env.get("PUSHGATEWAY_URL", "").startswith("http://"):
        if s.app_env != "development":  # the app refuses it at start (app/settings.py): fail here, not on the cluster
            _fail(f"PUSHGATEWAY_URL={job_env['PUSHGATEWAY_URL']}: basic auth over http:// sends the password in clear")


def _health(s: DeploySettings) -> None:
    if s.health_seconds < 0 or (s.health_seconds == 0 and s.app_env in DIGEST_ENVS):
        _fail(f"DEPLOY_HEALTH_SECONDS={s.health_seconds}: {s.app_env} deploys prove health (a positive number)")
    if s.health_seconds and not s.env_vars.get("PUSHGATEWAY_URL"):
        _fail("PUSHGATEWAY_URL: the health check reads the new run's last batch there (or DEPLOY_HEALTH_SECONDS=0)")
    for name, number in (("HEALTH_BACKLOG_SECONDS", s.backlog_seconds), ("HEALTH_BACKLOG_RECORDS", s.backlog_records)):
        if number <= 0:
            _fail(f"{name}={number}: expected a positive number")
    if s.app_env in DIGEST_ENVS and not s.alert_destination_id:
        _fail(f"ALERT_DESTINATION_ID: {s.app_env} notifies someone when a backlog health rule fires")


def _workers(s: DeploySettings) -> None:
    # Structured Streaming on Databricks: fixed-size clusters. Autoscaling removes executors (and their loaded
    # spaCy models) between micro-batches, so it is only used when asked for, with both bounds.
    if bool(s.autoscale_min_workers) != bool(s.autoscale_max_workers):
        _fail("autoscaling is on request only: set both AUTOSCALE_MIN_WORKERS and AUTOSCALE_MAX_WORKERS, or neither")
    if s.autoscale and not 0 < s.autoscale_min_workers <= s.autoscale_max_workers:
        _fail(
            f"AUTOSCALE_MIN_WORKERS={s.autoscale_min_workers} must be between 1 and "
            f"AUTOSCALE_MAX_WORKERS={s.autoscale_max_workers}"
        )
    if not s.autoscale and s.num_workers < 1:
        _fail(f"NUM_WORKERS={s.num_workers}: a streaming job needs at least one worker")
