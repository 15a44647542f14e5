"""The deploy's settings: one frozen object built once from the environment, validated before any API call.

Databricks credentials are not here: the SDK reads them itself (DATABRICKS_HOST with DATABRICKS_TOKEN, or
DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET for a service principal, or a profile), so every standard auth works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.settings_fields import SettingsError, build, from_environ, masked_repr, merged, setting
from deploy.databricks.validate import validate

__all__ = ["DeploySettings", "SettingsError", "image", "read_env_file"]

RUNTIME_ENV = Path(__file__).with_name("runtime.env")
# Optional ones the bundle always passes, '' when unset (its variables' defaults); the script writes the same, so
# both deploy one job. '' means unset to the app.
OPTIONAL_ENV = (
    "KAFKA_SASL_OAUTH_TOKEN_URL",
    "KAFKA_SASL_OAUTH_SCOPE",
    "KAFKA_SSL_CERT_LOCATION",
    "KAFKA_SSL_KEY_LOCATION",
    "KAFKA_SSL_KEY_PEM",
    "KAFKA_SSL_KEY_PASSWORD",
)
# Copied into the job's environment when set; the app reads them (app/settings.py). Passwords must be references.
# Not KAFKA_JAAS_CLASS_PREFIX: the job derives it from where it runs (kafkashaded. on Databricks), no deploy has to
# remember it.
PASSTHROUGH = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    *OPTIONAL_ENV,
    "INPUT_TOPIC",
    "RESULT_TOPIC",
    "DEAD_LETTER_TOPIC",
    "KAFKA_CONSUMER_GROUP",
    "PUSHGATEWAY_URL",
    "PUSHGATEWAY_USERNAME",
    "PUSHGATEWAY_PASSWORD",
)
REQUIRED = ("JOB_NAME", "APP_ENV", "INSTANCE_TYPE", "CHECKPOINT_LOCATION", "LOG_DESTINATION")


def _permissions(raw: str) -> tuple[tuple[str, str], ...]:
    """JOB_PERMISSIONS, group=LEVEL,... as pairs (validate.py checks the levels)."""
    pairs = [item.strip().rpartition("=") for item in raw.split(",") if item.strip()]
    return tuple((group, level) for group, _, level in pairs)


@dataclass(frozen=True, kw_only=True)
class DeploySettings:
    job_name: str = setting("JOB_NAME", doc="the job's name (a rename is carried out: the job is found by DEPLOY_KEY)")
    deploy_key: str = setting(
        "DEPLOY_KEY", "", doc="the job's stable identity, its deploy_key tag [ner-streaming-APP_ENV]"
    )
    app_env: str = setting("APP_ENV", doc="development|testing|staging|production")
    image: str = setting(
        "IMAGE",
        doc="full image reference; else IMAGE_REGISTRY/IMAGE_NAME with IMAGE_DIGEST (or IMAGE_DIGEST_FILE, the "
        "file the push wrote it to) or IMAGE_TAG",
    )
    instance_type: str = setting("INSTANCE_TYPE", doc="worker node type (and driver's unless DRIVER_INSTANCE_TYPE)")
    driver_instance_type: str = setting("DRIVER_INSTANCE_TYPE", "")
    num_workers: int = setting("NUM_WORKERS", 2, doc="fixed workers (Databricks advises no autoscaling for streaming)")
    autoscale_min_workers: int = setting("AUTOSCALE_MIN_WORKERS", 0, doc="autoscaling only on request: both or neither")
    autoscale_max_workers: int = setting("AUTOSCALE_MAX_WORKERS", 0)
    checkpoint_location: str = setting(
        "CHECKPOINT_LOCATION", doc="s3://bucket/path or /Volumes/catalog/schema/volume/path"
    )
    log_destination: str = setting("LOG_DESTINATION", doc="cluster logs: s3://... or /Volumes/...")
    run_as_service_principal: str = setting("RUN_AS_SERVICE_PRINCIPAL", "", doc="application id the job runs as")
    run_as_user: str = setting("RUN_AS_USER", "", doc="or a user name (not both)")
    permissions: tuple[tuple[str, str], ...] = setting("JOB_PERMISSIONS", (), doc="group=LEVEL,...", parse=_permissions)
    job_owner: str = setting(
        "JOB_OWNER",
        "",
        doc="the job's one IS_OWNER, the deploy principal (application id or user name) [the run-as principal]",
    )
    instance_profile_arn: str = setting("INSTANCE_PROFILE_ARN", "", doc="also how the cluster pulls from ECR")
    aws_region: str = setting("AWS_REGION", "", doc="the S3 log destination's region (required for s3://)")
    spot_availability: str = setting("SPOT_AVAILABILITY", "SPOT_WITH_FALLBACK")
    spot_first_on_demand: int = setting("SPOT_FIRST_ON_DEMAND", 1, doc="1: the driver is on-demand")
    docker_pull_username: str = setting("DOCKER_PULL_USERNAME", "", doc="registry pull auth (read-only credential)")
    docker_pull_password: str = setting("DOCKER_PULL_PASSWORD", "", doc="a {{secrets/scope/key}} reference")
    spark_env: tuple[tuple[str, str], ...] = setting("", (), doc="PASSTHROUGH variables that are set")
    runtime: str = setting("DATABRICKS_RUNTIME", doc="from runtime.env only")
    timeout_seconds: int = setting("DEPLOY_TIMEOUT_SECONDS", 1200, doc="until the run is RUNNING")
    poll_seconds: float = setting("DEPLOY_POLL_SECONDS", 10.0)
    scheduler_grace_seconds: float = setting(
        "DEPLOY_SCHEDULER_GRACE_SECONDS",
        120.0,
        doc="wait this long for the continuous scheduler's new run, then run-now",
    )
    health_seconds: float = setting(
        "DEPLOY_HEALTH_SECONDS",
        600.0,
        doc="after RUNNING, watch the run this long: it must not end and a micro-batch of it must commit (0: off, "
        "development and testing only)",
    )
    deploy_pushgateway_url: str = setting(
        "DEPLOY_PUSHGATEWAY_URL", "", doc="where the health check reads [PUSHGATEWAY_URL]"
    )
    deploy_pushgateway_username: str = setting("DEPLOY_PUSHGATEWAY_USERNAME", "", doc="the health check's read access")
    deploy_pushgateway_password: str = setting("DEPLOY_PUSHGATEWAY_PASSWORD", "", secret=True, doc="its password")
    backlog_seconds: int = setting(
        "HEALTH_BACKLOG_SECONDS", 900, doc="job health rule: STREAMING_BACKLOG_SECONDS above"
    )
    backlog_records: int = setting(
        "HEALTH_BACKLOG_RECORDS", 1_000_000, doc="job health rule: STREAMING_BACKLOG_RECORDS"
    )
    alert_destination_id: str = setting(
        "ALERT_DESTINATION_ID",
        "",
        doc="notified when a health rule is breached: a notification destination (email, Slack, PagerDuty, webhook)",
    )
    api_retry_timeout_seconds: int = setting("DATABRICKS_API_RETRY_TIMEOUT_SECONDS", 300, doc="SDK retries of 429/503")

    @property
    def autoscale(self) -> bool:
        return bool(self.autoscale_max_workers)

    @property
    def key(self) -> str:
        return self.deploy_key or f"ner-streaming-{self.app_env}"

    @property
    def owner(self) -> str:
        return self.job_owner or next(iter(self.run_as.values()), "")

    @property
    def env_vars(self) -> dict[str, str]:
        return dict(self.spark_env)

    @property
    def run_as(self) -> dict[str, str]:
        if self.run_as_service_principal:
            return {"service_principal_name": self.run_as_service_principal}
        return {"user_name": self.run_as_user} if self.run_as_user else {}

    @classmethod
    def load(cls, environ: Mapping[str, str], runtime_env: Path = RUNTIME_ENV) -> DeploySettings:
        missing = [v for v in REQUIRED if not environ.get(v)]
        if not environ.get("IMAGE") and not environ.get("IMAGE_NAME"):
            missing.append("IMAGE (or IMAGE_NAME)")
        if missing:
            raise SettingsError(f"missing required environment variable(s): {', '.join(missing)}")
        runtime = read_env_file(runtime_env)["DATABRICKS_RUNTIME"]
        if environ.get("DATABRICKS_RUNTIME", runtime) != runtime:
            msg = f"DATABRICKS_RUNTIME={environ['DATABRICKS_RUNTIME']}: the runtime is set in {runtime_env} only"
            raise SettingsError(msg)
        derived = {
            "runtime": runtime,
            "image": image(environ),
            "spark_env": tuple((k, environ[k]) for k in PASSTHROUGH if environ.get(k)),
        }
        return build(cls, merged(from_environ(cls, environ, blank_is_unset=True), derived))

    def __post_init__(self) -> None:
        validate(self)

    __repr__ = masked_repr


def image(environ: Mapping[str, str]) -> str:
    """IMAGE, or the reference `make image-push` pushed: IMAGE_REGISTRY/IMAGE_NAME, @IMAGE_DIGEST or :IMAGE_TAG."""
    if environ.get("IMAGE"):
        return environ["IMAGE"]
    ref = environ["IMAGE_NAME"]
    if environ.get("IMAGE_REGISTRY"):
        ref = f"{environ['IMAGE_REGISTRY'].rstrip('/')}/{ref}"
    digest = environ.get("IMAGE_DIGEST") or _digest_file(environ.get("IMAGE_DIGEST_FILE", ""))
    if digest:
        return f"{ref}@{digest}"
    return f"{ref}:{environ['IMAGE_TAG']}" if environ.get("IMAGE_TAG") else ref


def _digest_file(name: str) -> str:
    """The digest the push reported (deploy/image/push-image.sh writes it), never re-read from a mutable tag."""
    if not name:
        return ""
    try:
        digest = Path(name).read_text().strip()
    except OSError as e:
        raise SettingsError(f"IMAGE_DIGEST_FILE={name}: {e.strerror}") from e
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise SettingsError(f"IMAGE_DIGEST_FILE={name}: expected sha256:<64 hex>, got {digest[:80]!r}")
    return digest


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blanks skipped): the format make and docker --build-arg read too."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}
