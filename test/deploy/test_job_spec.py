"""The job's settings agree with the app (its static Spark settings) and the image (the runtime, in one place)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from app.settings import Settings
from app.spark.session import STATIC_PREFIXES, session_conf
from deploy.databricks.job_spec import STATIC_SPARK_CONF, JobValues, job_settings
from deploy.databricks.settings import RUNTIME_ENV, DeploySettings, read_env_file
from test.helpers.deploy_env import ROOT, make_env


def test_the_cluster_sets_every_static_spark_setting_the_app_relies_on() -> None:
    """The app cannot set these on a runtime's own session, so the cluster's spark_conf must carry them."""
    static = {k: v for k, v in session_conf(Settings.load({})).items() if k.startswith(STATIC_PREFIXES)}

    assert static and {k: STATIC_SPARK_CONF.get(k) for k in static} == static


def test_the_runtime_and_the_base_image_are_one_release() -> None:
    env = read_env_file(RUNTIME_ENV)
    runtime = re.match(r"^(\d+\.\d+)\.x-scala2\.13$", env["DATABRICKS_RUNTIME"])
    base = re.match(r"^databricksruntime/python:(\d+\.\d+)-LTS$", env["DATABRICKS_BASE_IMAGE"])

    assert runtime and base and runtime.group(1) == base.group(1)


def test_the_image_build_reads_the_base_from_runtime_env() -> None:
    makefiles = "\n".join(p.read_text() for p in (ROOT / "Makefile", ROOT / "deploy" / "docker.mk"))
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = read_env_file(RUNTIME_ENV)["DATABRICKS_BASE_IMAGE"]

    assert "deploy/databricks/runtime.env" in makefiles
    assert f"ARG DATABRICKS_BASE={base}" in dockerfile


def test_the_jobs_environment_is_what_the_app_needs_on_databricks(tmp_path: Path) -> None:
    """The job's spark_env_vars as the app reads them on a Databricks cluster: the shaded JAAS prefix derived (no
    deploy sets it), the topics and Pushgateway auth as deployed, the passwords as references the cluster resolves."""
    api = SimpleNamespace(url="https://workspace.example")
    s = DeploySettings.load(
        make_env(
            api,
            tmp_path,
            "https://pushgateway.example",
            PUSHGATEWAY_USERNAME="ner",
            PUSHGATEWAY_PASSWORD="{{secrets/s/p}}",
        )
    )
    job_env = job_settings(JobValues.from_settings(s))["tasks"][0]["new_cluster"]["spark_env_vars"]

    assert "KAFKA_JAAS_CLASS_PREFIX" not in job_env
    app = Settings.load({**job_env, "DATABRICKS_RUNTIME_VERSION": "17.3"})
    assert app.kafka.jaas_class_prefix == "kafkashaded."
    assert (app.kafka.input_topic, app.kafka.result_topic, app.kafka.dead_letter_topic) == (
        "ner-input",
        "ner-result",
        "ner-dead-letter",
    )
    assert (app.metrics.pushgateway_username, app.metrics.job) == ("ner", s.job_name)
    assert job_env["PUSHGATEWAY_PASSWORD"] == "{{secrets/s/p}}" and job_env["KAFKA_SASL_PASSWORD"].startswith("{{")
