"""The job's settings (Jobs API 2.2 JobSettings): the one definition the script deploys and the bundle's job resource
is generated from (deploy/databricks/bundle_resource.py writes resources/ner_streaming.job.yml from job_settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploy.databricks.settings import OPTIONAL_ENV, DeploySettings

TASK_KEY = "ner"
KEY_TAG = "deploy_key"  # the job's stable identity: found by it, whatever its name
# Written after a deploy proved health (by digest only): what promotion checks, the previous one for a rollback.
HEALTHY_TAGS = ("healthy_digest", "previous_healthy_digest")
PYTHON_FILE = "file:/app/app/run.py"
# Spark settings a runtime's own session cannot take (app/spark/session.py STATIC_PREFIXES): on Databricks
# they go in the cluster's spark_conf. test_job_spec.py checks them against the app's session_conf.
STATIC_SPARK_CONF = {
    "spark.redaction.regex": r"(?i)secret|password|token|access[.]?key|private key",
    "spark.ui.prometheus.enabled": "true",
    "spark.ui.killEnabled": "false",
    "spark.ui.retainedJobs": "200",
    "spark.ui.retainedStages": "200",
    "spark.ui.retainedTasks": "10000",
    "spark.sql.ui.retainedExecutions": "100",
    "spark.sql.streaming.ui.retainedProgressUpdates": "200",
    "spark.python.worker.reuse": "true",
    "spark.executorEnv.OMP_NUM_THREADS": "1",
    "spark.executorEnv.OPENBLAS_NUM_THREADS": "1",
    "spark.executorEnv.MKL_NUM_THREADS": "1",
    # Spark's PrometheusServlet on the driver UI (/metrics/prometheus): spark.metrics.conf.* is read at start-up,
    # so no init script has to edit metrics.properties.
    "spark.metrics.namespace": "ner",
    "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
    "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
    "spark.metrics.conf.driver.source.jvm.class": "org.apache.spark.metrics.source.JvmSource",
    "spark.metrics.conf.executor.source.jvm.class": "org.apache.spark.metrics.source.JvmSource",
}
CLUSTER_SPARK_CONF = {
    **STATIC_SPARK_CONF,
    # Container Services clusters reach Unity Catalog volumes (the checkpoint's home) only with this set.
    "spark.databricks.unityCatalog.volumes.enabled": "true",
}


@dataclass(frozen=True)
class JobValues:
    """What differs between deployments, in the API's shapes. The script fills it from DeploySettings
    (`from_settings`); the bundle with ${var.*} references (bundle_resource.py). Numbers may be references there."""

    name: str
    app_env: str
    key: str
    pause_status: str
    runtime: str
    node_type: str
    driver_node_type: str
    workers: dict[str, Any]  # num_workers, or autoscale
    docker_image: dict[str, Any] | str  # a ${var.*} reference to a complex variable in the bundle
    log_conf: dict[str, Any]
    aws_attributes: dict[str, Any]
    env: dict[str, str]
    identity: str  # the dedicated cluster's user ('' = none)
    backlog_seconds: int | str
    backlog_records: int | str
    alert_destination: str  # a notification destination id ('' = none)
    run_as: dict[str, str] = field(default_factory=dict)
    extra_tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, s: DeploySettings, pause_status: str = "UNPAUSED", extra_tags: dict[str, str] | None = None
    ) -> JobValues:
        docker: dict[str, Any] = {"url": s.image}
        if s.docker_pull_username:
            docker["basic_auth"] = {"username": s.docker_pull_username, "password": s.docker_pull_password}
        aws: dict[str, Any] = {"availability": s.spot_availability, "first_on_demand": s.spot_first_on_demand}
        if s.instance_profile_arn:
            aws["instance_profile_arn"] = s.instance_profile_arn
        workers: dict[str, Any] = (
            {"autoscale": {"min_workers": s.autoscale_min_workers, "max_workers": s.autoscale_max_workers}}
            if s.autoscale
            else {"num_workers": s.num_workers}
        )
        return cls(
            name=s.job_name,
            app_env=s.app_env,
            key=s.key,
            pause_status=pause_status,
            runtime=s.runtime,
            node_type=s.instance_type,
            driver_node_type=s.driver_instance_type or s.instance_type,
            workers=workers,
            docker_image=docker,
            log_conf=storage(s.log_destination, s.aws_region),
            aws_attributes=aws,
            env={"CHECKPOINT_LOCATION": s.checkpoint_location, **dict.fromkeys(OPTIONAL_ENV, ""), **s.env_vars},
            identity=next(iter(s.run_as.values()), ""),
            backlog_seconds=s.backlog_seconds,
            backlog_records=s.backlog_records,
            alert_destination=s.alert_destination_id,
            run_as=s.run_as,
            extra_tags=dict(extra_tags or {}),
        )


def job_settings(v: JobValues) -> dict[str, Any]:
    """A continuous job: the scheduler keeps exactly one run and restarts a failed one with backoff."""
    settings: dict[str, Any] = {
        "name": v.name,
        "description": "Real-time spaCy NER on Spark Structured Streaming (Kafka in, Kafka out). Deployed by "
        "deploy/databricks/deploy-job.sh or the bundle; edits made in the UI are overwritten.",
        "tags": {"app": "ner-streaming", "env": v.app_env, KEY_TAG: v.key, **v.extra_tags},
        "continuous": {"pause_status": v.pause_status, "task_retry_mode": "ON_FAILURE"},
        "max_concurrent_runs": 1,
        # Streaming backlog (Public Preview metrics): Databricks notifies when the stream falls behind, even when
        # our own Pushgateway or Prometheus is what broke.
        "health": {
            "rules": [
                {"metric": "STREAMING_BACKLOG_SECONDS", "op": "GREATER_THAN", "value": v.backlog_seconds},
                {"metric": "STREAMING_BACKLOG_RECORDS", "op": "GREATER_THAN", "value": v.backlog_records},
            ]
        },
        "tasks": [
            {
                "task_key": TASK_KEY,
                "description": "Kafka -> spaCy NER -> Kafka streaming query (/app/app/run.py in the image)",
                "spark_python_task": {"python_file": PYTHON_FILE},
                "new_cluster": cluster(v),
            }
        ],
    }
    if v.alert_destination:
        settings["webhook_notifications"] = {"on_streaming_backlog_exceeded": [{"id": v.alert_destination}]}
    if v.run_as:
        settings["run_as"] = v.run_as
    return settings


def cluster(v: JobValues) -> dict[str, Any]:
    c: dict[str, Any] = {
        "spark_version": v.runtime,
        "node_type_id": v.node_type,
        "driver_node_type_id": v.driver_node_type,
        **v.workers,
        # Container Services need a dedicated (single-user) cluster: standard (shared) access mode refuses them.
        "data_security_mode": "SINGLE_USER",
        "docker_image": v.docker_image,
        "aws_attributes": v.aws_attributes,
        "cluster_log_conf": v.log_conf,
        "spark_conf": dict(CLUSTER_SPARK_CONF),
        "spark_env_vars": {
            "APP_ENV": v.app_env,
            "CHECKPOINT_LOCATION": v.env["CHECKPOINT_LOCATION"],
            "METRICS_JOB": v.name,
            **{k: val for k, val in v.env.items() if k != "CHECKPOINT_LOCATION"},
        },
        "custom_tags": {"app": "ner-streaming", "env": v.app_env, "job": v.name},
    }
    if v.identity:
        c["single_user_name"] = v.identity
    return c


def storage(destination: str, region: str = "") -> dict[str, Any]:
    """A log destination; S3 carries its region (the API refuses an S3 destination without region or endpoint)."""
    if destination.startswith("/Volumes/"):
        return {"volumes": {"destination": destination}}
    return {"s3": {"destination": destination, **({"region": region} if region else {})}}


def access_control_list(s: DeploySettings) -> list[dict[str, str]]:
    """The job's whole ACL: exactly one IS_OWNER (a user or service principal; groups cannot own), then the groups."""
    principal = "user_name" if "@" in s.owner else "service_principal_name"
    owner = [{principal: s.owner, "permission_level": "IS_OWNER"}] if s.owner else []
    return owner + [{"group_name": group, "permission_level": level} for group, level in s.permissions]
