"""The job's settings agree with the app (its static Spark settings) and the image (the runtime, in one place)."""

from __future__ import annotations

import re

from app.settings import Settings
from app.utils.spark_session import STATIC_PREFIXES, session_conf
from deploy.databricks.job_spec import STATIC_SPARK_CONF
from deploy.databricks.settings import RUNTIME_ENV, read_env_file

from .deploy_env import ROOT


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
