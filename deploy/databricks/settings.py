"""The deploy's settings: one frozen object built once from the environment, validated before any API call.

Databricks credentials are not here: the SDK reads them itself (DATABRICKS_HOST with DATABRICKS_TOKEN, or
DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET for a service principal, or a profile), so every standard auth works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

RUNTIME_ENV = Path(__file__).with_name("runtime.env")
APP_ENVS = ("development", "testing", "staging", "production")
SECRET_REF = re.compile(r"^\{\{secrets/[\w.\-]+/[\w.\-]+\}\}$")
# Storage the job may write to: Unity Catalog volumes or S3. Never the DBFS root (workspace-wide, not governed).
STORAGE = re.compile(r"^(s3://[a-z0-9.\-]{3,63}/.+|/Volumes/[^/]+/[^/]+/[^/]+/.+)$")
PERMISSION_LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE")
# Copied into the job's environment when set; the app reads them (app/settings.py). Passwords must be references.
PASSTHROUGH = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME",
               "KAFKA_SASL_PASSWORD", "KAFKA_JAAS_CLASS_PREFIX", "INPUT_TOPIC", "RESULT_TOPIC", "DEAD_LETTER_TOPIC",
               "PUSHGATEWAY_URL", "PUSHGATEWAY_USERNAME", "PUSHGATEWAY_PASSWORD")
SECRET_VARS = ("KAFKA_SASL_PASSWORD", "PUSHGATEWAY_PASSWORD", "DOCKER_PULL_PASSWORD")


class SettingsError(ValueError):
    """A bad or missing setting; the message names the environment variable."""


def env(name: str, default: Any = None, doc: str = "") -> Any:
    return field(default=default, metadata={"env": name, "doc": doc})


@dataclass(frozen=True)
class DeploySettings:
    job_name: str = env("JOB_NAME", doc="the job's unique name: how the deploy finds it")
    app_env: str = env("APP_ENV", doc="development|testing|staging|production")
    image: str = env("IMAGE", doc="full image reference; else IMAGE_REGISTRY/IMAGE_NAME with IMAGE_DIGEST or IMAGE_TAG")
    instance_type: str = env("INSTANCE_TYPE", doc="worker node type (and driver's unless DRIVER_INSTANCE_TYPE)")
    driver_instance_type: str = env("DRIVER_INSTANCE_TYPE", "")
    num_workers: int = env("NUM_WORKERS", 2, doc="fixed workers (Databricks advises no autoscaling for streaming)")
    autoscale_min_workers: int = env("AUTOSCALE_MIN_WORKERS", 0, doc="autoscaling only on request: both or neither")
    autoscale_max_workers: int = env("AUTOSCALE_MAX_WORKERS", 0)
    checkpoint_location: str = env("CHECKPOINT_LOCATION", doc="s3://bucket/path or /Volumes/catalog/schema/volume/path")
    log_destination: str = env("LOG_DESTINATION", doc="cluster logs: s3://... or /Volumes/...")
    run_as_service_principal: str = env("RUN_AS_SERVICE_PRINCIPAL", "", doc="application id the job runs as")
    run_as_user: str = env("RUN_AS_USER", "", doc="or a user name (not both)")
    permissions: tuple[tuple[str, str], ...] = env("JOB_PERMISSIONS", (), doc="group=LEVEL,...")
    instance_profile_arn: str = env("INSTANCE_PROFILE_ARN", "", doc="also how the cluster pulls from ECR")
    aws_region: str = env("AWS_REGION", "")
    spot_availability: str = env("SPOT_AVAILABILITY", "SPOT_WITH_FALLBACK")
    spot_first_on_demand: int = env("SPOT_FIRST_ON_DEMAND", 1, doc="1: the driver is on-demand")
    docker_pull_username: str = env("DOCKER_PULL_USERNAME", "", doc="registry pull auth (read-only credential)")
    docker_pull_password: str = env("DOCKER_PULL_PASSWORD", "", doc="a {{secrets/scope/key}} reference")
    spark_env: tuple[tuple[str, str], ...] = env("", (), doc="PASSTHROUGH variables that are set")
    runtime: str = env("DATABRICKS_RUNTIME", doc="from runtime.env only")
    timeout_seconds: int = env("DEPLOY_TIMEOUT_SECONDS", 1200, doc="until the run is RUNNING")
    poll_seconds: float = env("DEPLOY_POLL_SECONDS", 10.0)
    scheduler_grace_seconds: float = env("DEPLOY_SCHEDULER_GRACE_SECONDS", 120.0,
                                         doc="wait this long for the continuous scheduler's new run, then run-now")
    api_retry_timeout_seconds: int = env("DATABRICKS_API_RETRY_TIMEOUT_SECONDS", 300, doc="SDK retries of 429/503")

    @property
    def autoscale(self) -> bool:
        return bool(self.autoscale_max_workers)

    @property
    def run_as(self) -> dict[str, str]:
        if self.run_as_service_principal:
            return {"service_principal_name": self.run_as_service_principal}
        return {"user_name": self.run_as_user} if self.run_as_user else {}

    @classmethod
    def load(cls, environ: Mapping[str, str], runtime_env: Path = RUNTIME_ENV) -> DeploySettings:
        missing = [v for v in ("JOB_NAME", "APP_ENV", "INSTANCE_TYPE", "CHECKPOINT_LOCATION", "LOG_DESTINATION")
                   if not environ.get(v)]
        if not environ.get("IMAGE") and not environ.get("IMAGE_NAME"):
            missing.append("IMAGE (or IMAGE_NAME)")
        if missing:
            raise SettingsError(f"missing required environment variable(s): {', '.join(missing)}")
        runtime = read_env_file(runtime_env)["DATABRICKS_RUNTIME"]
        if environ.get("DATABRICKS_RUNTIME", runtime) != runtime:
            msg = f"DATABRICKS_RUNTIME={environ['DATABRICKS_RUNTIME']}: the runtime is set in {runtime_env} only"
            raise SettingsError(msg)
        values: dict[str, Any] = {"runtime": runtime, "image": image(environ),
                                  "spark_env": tuple((k, environ[k]) for k in PASSTHROUGH if environ.get(k))}
        for f in fields(cls):
            name = f.metadata["env"]
            if f.name in values or not environ.get(name):
                continue
            values[f.name] = _parse(f.name, name, environ[name], f.default)
        return cls(**values)

    def __post_init__(self) -> None:
        from deploy.databricks.validate import validate  # the rules live beside the settings, in their own room

        validate(self)


def _parse(attr: str, name: str, raw: str, default: Any) -> Any:
    if attr == "permissions":
        pairs = [item.strip().rpartition("=") for item in raw.split(",") if item.strip()]
        return tuple((group, level) for group, _, level in pairs)
    try:
        return type(default)(raw) if default is not None else raw
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r}: expected {type(default).__name__}") from e


def image(environ: Mapping[str, str]) -> str:
    """IMAGE, or the reference `make image-push` pushed: IMAGE_REGISTRY/IMAGE_NAME, @IMAGE_DIGEST or :IMAGE_TAG."""
    if environ.get("IMAGE"):
        return environ["IMAGE"]
    ref = environ["IMAGE_NAME"]
    if environ.get("IMAGE_REGISTRY"):
        ref = f"{environ['IMAGE_REGISTRY'].rstrip('/')}/{ref}"
    if environ.get("IMAGE_DIGEST"):
        return f"{ref}@{environ['IMAGE_DIGEST']}"
    return f"{ref}:{environ['IMAGE_TAG']}" if environ.get("IMAGE_TAG") else ref


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blanks skipped): the format make and docker --build-arg read too."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}
