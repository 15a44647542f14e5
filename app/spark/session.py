"""The SparkSession: the active one when a runtime provides it (Databricks), else a local one we configure."""

import atexit
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pyspark
from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

from app.kafka.options import OAUTH_ALLOWED_URLS_PROPERTY
from app.settings import Settings

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def kafka_package() -> str:
    """The Kafka connector at exactly the installed pyspark's version (they must match)."""
    return f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}"


SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Settings a running session cannot take (a runtime's own session, e.g. Databricks): they belong in the cluster's
# spark_conf there.
STATIC_PREFIXES = (
    "spark.redaction.",
    "spark.ui.",
    "spark.metrics.",
    "spark.python.",
    "spark.executorEnv.",
    "spark.sql.ui.",
    "spark.sql.streaming.ui.",
)


REDACTION_REGEX = r"(?i)secret|password|token|access[.]?key|private key"


def client_java_options(s: Settings) -> str:
    """JVM options the Kafka clients need: with OAUTHBEARER, Kafka 4 clients reach only the token endpoints listed
    in a system property (a URL in it cannot hold a space: the settings accept none)."""
    if s.kafka.oauth:
        return f"-D{OAUTH_ALLOWED_URLS_PROPERTY}={s.kafka.sasl_oauth_token_url}"
    return ""


def session_conf(s: Settings) -> dict[str, str]:
    """Spark settings this job relies on, whoever creates the session."""
    return {
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(s.spark.arrow_max_records_per_batch),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "true",
        "spark.sql.streaming.metricsEnabled": "true",
        "spark.ui.prometheus.enabled": "true",
        # No "kill" links on jobs and stages: whoever reaches the UI must not be able to stop the work.
        "spark.ui.killEnabled": "false",
        "spark.metrics.namespace": "ner",
        # Spark's PrometheusServlet on the driver UI (/metrics/prometheus/); Databricks gets it from the init script.
        "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
        "spark.sql.shuffle.partitions": "8",
        # Spark's default pattern, plus a PEM private key's text (mTLS, passed inline as a Kafka option): a key or
        # value that matches is printed as *********(redacted) in the UI, the event log and plan strings.
        "spark.redaction.regex": REDACTION_REGEX,
        # One BLAS/OpenMP thread per Python worker: the workers are the parallelism (one per core), and an
        # oversubscribed BLAS is a known cause of slow spaCy inside Spark.
        **{f"spark.executorEnv.{name}": "1" for name in SINGLE_THREAD_ENV},
        # A job that runs for months: the UI and SQL history the driver keeps is bounded (Spark keeps 1,000 jobs,
        # stages and SQL executions by default, each micro-batch adds some; the driver heap filled with them).
        "spark.ui.retainedJobs": "200",
        "spark.ui.retainedStages": "200",
        "spark.ui.retainedTasks": "10000",
        "spark.sql.ui.retainedExecutions": "100",
        "spark.sql.streaming.ui.retainedProgressUpdates": "200",
        "spark.sql.streaming.numRecentProgressUpdates": "20",
    }


def filesystem_checkpoint_manager(spark_version: str) -> str:
    """Spark's checkpoint file manager that writes through Hadoop's FileSystem API (rename by java.io) rather than its
    FileContext API; Spark 4.1 moved it into the `checkpointing` package."""
    major, minor = (int(part) for part in spark_version.split(".")[:2])
    package = "org.apache.spark.sql.execution.streaming"
    if (major, minor) >= (4, 1):
        package += ".checkpointing"
    return f"{package}.FileSystemBasedCheckpointFileManager"


def checkpoint_conf(s: Settings, local_session: bool, spark_version: str) -> dict[str, str]:
    """The checkpoint file manager for CHECKPOINT_FILE_MANAGER; `local_session`: this job starts a local session.

    Without Hadoop's native library (pip's pyspark has none), the local file system forks `chmod` for every file it
    creates and, under Spark's default FileContext-based manager, `readlink` for every path a rename looks at: ten
    forks per offset or commit log entry, a large share of each micro-batch's fixed cost (docs/benchmarks.md).
    The FileSystem-based manager renames with java.io: two forks. A rename on one local disk is atomic either way;
    the manager checks that the entry does not exist just before it renames, where FileContext refuses to
    overwrite in the rename itself (the difference matters only to two jobs writing one checkpoint, which nothing
    should do).
    `auto` keeps Spark's choice for every other file system (HDFS, DBFS, object stores).
    """
    choice = s.spark.checkpoint_file_manager
    if choice == "auto":
        scheme = urlparse(s.spark.checkpoint_location).scheme
        choice = "filesystem" if scheme == "file" or (scheme == "" and local_session) else "spark"
    if choice != "filesystem":
        return {}
    return {"spark.sql.streaming.checkpointFileManagerClass": filesystem_checkpoint_manager(spark_version)}


def is_local(master: str) -> bool:
    """local, local[N], local[*], local-cluster[...]: executors run on this machine and see the project root."""
    return master.startswith("local")


def package_zip(directory: Path) -> Path:
    """A zip of the `app` package (sources and config, no bytecode) for executors that do not share our disk."""
    package = PROJECT_ROOT / "app"
    archive = directory / "app.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                zf.write(path, path.relative_to(PROJECT_ROOT).as_posix())
    return archive


@contextmanager
def session(s: Settings) -> Iterator[SparkSession]:
    """The job's session; stopped at the end only if the job created it. A runtime's own session (Databricks)
    is not ours to stop: Databricks documents that stopping it in a job makes the run fail."""
    provided = running() is not None
    spark = get_or_create(s)
    try:
        yield spark
    finally:
        if not provided:
            spark.stop()


def running() -> SparkSession | None:
    """The session already running in this process, if any: the current thread's active one, else the default one.

    The active session is per thread, and a py4j thread of the JVM may be replaced under the same Python thread; the
    default (instantiated) session is per process, which is what "the runtime provides one" means.
    """
    try:
        return SparkSession.active()
    except PySparkRuntimeError:  # NO_ACTIVE_OR_DEFAULT_SESSION
        return None


def get_or_create(s: Settings) -> SparkSession:
    active = running()
    if active is not None:
        log.info("using the SparkSession the runtime provides (Spark %s)", active.version)
        for key, value in {
            **session_conf(s),
            **checkpoint_conf(s, local_session=False, spark_version=active.version),
        }.items():
            if not key.startswith(STATIC_PREFIXES):
                active.conf.set(key, value)
        return active
    builder = SparkSession.builder.master(s.spark.master).appName(s.spark.query_name)
    for key, value in {**session_conf(s), **checkpoint_conf(s, is_local(s.spark.master), pyspark.__version__)}.items():
        builder = builder.config(key, value)
    if is_local(s.spark.master):
        # Local mode: keep the driver (RPC, block manager) on loopback. The UI (and its metrics servlet) ignores
        # spark.driver.bindAddress: WebUI binds to the JVM's SPARK_LOCAL_IP, else to every interface, and the JVM
        # inherits this process's environment when the gateway starts below.
        builder = builder.config("spark.driver.host", LOOPBACK).config("spark.driver.bindAddress", LOOPBACK)
        os.environ["SPARK_LOCAL_IP"] = LOOPBACK
    if java_options := client_java_options(s):
        builder = builder.config("spark.executor.extraJavaOptions", java_options)
    if driver_options := " ".join(o for o in (s.spark.driver_java_options, java_options) if o):
        # Read when the driver JVM is launched, i.e. only here, where this job starts it.
        builder = builder.config("spark.driver.extraJavaOptions", driver_options)
    if s.spark.jars:
        builder = builder.config("spark.jars", s.spark.jars)
    else:
        builder = builder.config("spark.jars.packages", s.spark.kafka_package or kafka_package())
    # Python workers use this interpreter (on a cluster: the same path, e.g. the image's /opt/venv) and import the
    # `app` package from the project root on this machine, or from a zip the driver ships to remote executors.
    python_path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    builder = builder.config("spark.pyspark.python", sys.executable).config(
        "spark.pyspark.driver.python", sys.executable
    )
    if is_local(s.spark.master):
        builder = builder.config("spark.executorEnv.PYTHONPATH", python_path)
    else:
        workdir = tempfile.mkdtemp(prefix="ner-app-")
        atexit.register(shutil.rmtree, workdir, True)  # after Spark has stopped: the driver serves it until then
        archive = package_zip(Path(workdir))
        builder = builder.config("spark.submit.pyFiles", str(archive))
    # pyspark picks the workers' interpreter from PYSPARK_PYTHON when the context starts, and local-mode
    # workers inherit the driver's environment: process plumbing, not settings.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ["PYTHONPATH"] = python_path
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if is_local(s.spark.master):
        ui_host = spark.sparkContext._jvm.java.lang.System.getenv("SPARK_LOCAL_IP")  # type: ignore[union-attr]
        if ui_host != LOOPBACK:  # a JVM started earlier in this process, without our environment
            log.warning(
                "the Spark UI binds to %s, not loopback: the JVM started before SPARK_LOCAL_IP was set",
                ui_host or "every interface",
            )
    log.info("started SparkSession %s on %s", spark.version, s.spark.master)
    return spark
