"""The job's settings (Jobs API 2.2 JobSettings) built from DeploySettings: the one definition the script deploys.

databricks.yml describes the same job for `databricks bundle deploy`; test_bundle.py checks that they agree.
"""

from __future__ import annotations

from typing import Any

from deploy.databricks.settings import DeploySettings

TASK_KEY = "ner"
PYTHON_FILE = "file:/app/app/run.py"
# Spark settings a runtime's own session cannot take (app/utils/spark_session.py STATIC_PREFIXES): on Databricks
# they go in the cluster's spark_conf. test_job_spec.py checks them against the app's session_conf.
STATIC_SPARK_CONF = {
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


def job_settings(s: DeploySettings, pause_status: str = "UNPAUSED") -> dict[str, Any]:
    """A continuous job: the scheduler keeps exactly one run and restarts a failed one with backoff."""
    settings: dict[str, Any] = {
        "name": s.job_name,
        "description": "Real-time spaCy NER on Spark Structured Streaming (Kafka in, Kafka out). Deployed by "
                       "deploy/databricks/deploy-job.sh or the bundle; edits made in the UI are overwritten.",
        "tags": {"app": "ner-streaming", "env": s.app_env},
        "continuous": {"pause_status": pause_status, "task_retry_mode": "ON_FAILURE"},
        "max_concurrent_runs": 1,
        "tasks": [{
            "task_key": TASK_KEY,
            "description": "Kafka -> spaCy NER -> Kafka streaming query (/app/app/run.py in the image)",
            "spark_python_task": {"python_file": PYTHON_FILE},
            "new_cluster": cluster(s),
        }],
    }
    if s.run_as:
        settings["run_as"] = s.run_as
    return settings


def cluster(s: DeploySettings) -> dict[str, Any]:
    c: dict[str, Any] = {
        "spark_version": s.runtime,
        "node_type_id": s.instance_type,
        "driver_node_type_id": s.driver_instance_type or s.instance_type,
        # Container Services need a dedicated (single-user) cluster: standard (shared) access mode refuses them.
        "data_security_mode": "SINGLE_USER",
        "docker_image": {"url": s.image},
        "aws_attributes": {"availability": s.spot_availability, "first_on_demand": s.spot_first_on_demand},
        "cluster_log_conf": storage(s.log_destination, s.aws_region),
        "spark_conf": dict(CLUSTER_SPARK_CONF),
        "spark_env_vars": {"APP_ENV": s.app_env, "CHECKPOINT_LOCATION": s.checkpoint_location,
                           "METRICS_JOB": s.job_name, **dict(s.spark_env)},
        "custom_tags": {"app": "ner-streaming", "env": s.app_env, "job": s.job_name},
    }
    if s.autoscale:
        c["autoscale"] = {"min_workers": s.autoscale_min_workers, "max_workers": s.autoscale_max_workers}
    else:
        c["num_workers"] = s.num_workers
    if s.run_as:
        c["single_user_name"] = next(iter(s.run_as.values()))
    if s.docker_pull_username:
        c["docker_image"]["basic_auth"] = {"username": s.docker_pull_username, "password": s.docker_pull_password}
    if s.instance_profile_arn:
        c["aws_attributes"]["instance_profile_arn"] = s.instance_profile_arn
    return c


def storage(destination: str, region: str = "") -> dict[str, Any]:
    if destination.startswith("/Volumes/"):
        return {"volumes": {"destination": destination}}
    return {"s3": {"destination": destination, **({"region": region} if region else {})}}


def access_control_list(s: DeploySettings) -> list[dict[str, str]]:
    return [{"group_name": group, "permission_level": level} for group, level in s.permissions]
