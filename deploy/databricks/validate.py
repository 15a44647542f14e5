"""The deploy settings' cross-field rules: each failure names the environment variable and what is expected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploy.databricks.settings import APP_ENVS, PERMISSION_LEVELS, SECRET_REF, SECRET_VARS, STORAGE, SettingsError

if TYPE_CHECKING:
    from deploy.databricks.settings import DeploySettings

DIGEST_ENVS = ("staging", "production")  # where the image must be pinned by digest: what runs is what was tested


def _fail(message: str) -> None:
    raise SettingsError(message)


def validate(s: DeploySettings) -> None:
    if s.app_env not in APP_ENVS:
        _fail(f"APP_ENV={s.app_env}: expected one of {', '.join(APP_ENVS)}")
    if s.app_env in DIGEST_ENVS and "@sha256:" not in s.image:
        _fail(f"IMAGE={s.image}: {s.app_env} deploys an image by digest (IMAGE_DIGEST=sha256:...), not by tag")
    _workers(s)
    for var, value in (("CHECKPOINT_LOCATION", s.checkpoint_location), ("LOG_DESTINATION", s.log_destination)):
        if not STORAGE.match(value):
            _fail(f"{var}={value}: expected s3://bucket/path or /Volumes/<catalog>/<schema>/<volume>/path "
                  "(not the DBFS root)")
    secrets = dict(s.spark_env) | {"DOCKER_PULL_PASSWORD": s.docker_pull_password}
    for var in SECRET_VARS:
        if secrets.get(var) and not SECRET_REF.match(secrets[var]):
            # Never echo the value: it may be the password itself.
            _fail(f"{var}: a plain value would be stored in the job's settings; give a Databricks secret "
                  "reference instead, {{secrets/<scope>/<key>}}")
    if bool(s.docker_pull_username) != bool(s.docker_pull_password):
        _fail("set both DOCKER_PULL_USERNAME and DOCKER_PULL_PASSWORD, or neither (ECR: the instance profile pulls)")
    if s.run_as_service_principal and s.run_as_user:
        _fail("set RUN_AS_SERVICE_PRINCIPAL or RUN_AS_USER, not both")
    if s.app_env in DIGEST_ENVS and not s.run_as:
        _fail(f"{s.app_env} runs as a service principal: set RUN_AS_SERVICE_PRINCIPAL (its application id)")
    for group, level in s.permissions:
        if not group or level not in PERMISSION_LEVELS:
            _fail(f"JOB_PERMISSIONS: {group}={level}: expected group=LEVEL with LEVEL one of "
                  f"{', '.join(PERMISSION_LEVELS)}")
    if s.spot_availability not in ("SPOT", "ON_DEMAND", "SPOT_WITH_FALLBACK"):
        _fail(f"SPOT_AVAILABILITY={s.spot_availability}: expected SPOT, ON_DEMAND or SPOT_WITH_FALLBACK")
    for name, number in (("DEPLOY_TIMEOUT_SECONDS", s.timeout_seconds), ("DEPLOY_POLL_SECONDS", s.poll_seconds)):
        if number <= 0:
            _fail(f"{name}={number}: expected a positive number")


def _workers(s: DeploySettings) -> None:
    # Structured Streaming on Databricks: fixed-size clusters. Autoscaling removes executors (and their loaded
    # spaCy models) between micro-batches, so it is only used when asked for, with both bounds.
    if bool(s.autoscale_min_workers) != bool(s.autoscale_max_workers):
        _fail("autoscaling is on request only: set both AUTOSCALE_MIN_WORKERS and AUTOSCALE_MAX_WORKERS, or neither")
    if s.autoscale and not 0 < s.autoscale_min_workers <= s.autoscale_max_workers:
        _fail(f"AUTOSCALE_MIN_WORKERS={s.autoscale_min_workers} must be between 1 and "
              f"AUTOSCALE_MAX_WORKERS={s.autoscale_max_workers}")
    if not s.autoscale and s.num_workers < 1:
        _fail(f"NUM_WORKERS={s.num_workers}: a streaming job needs at least one worker")
