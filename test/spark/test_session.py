"""The session: the `app` package shipped to executors that do not share the driver's disk, the UI kept local."""

import contextlib
import ipaddress
import os
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

from app.spark.session import is_local, package_zip


@pytest.mark.parametrize(
    ("master", "local"),
    [
        ("local", True),
        ("local[2]", True),
        ("local[*]", True),
        ("local-cluster[2,1,1024]", True),
        ("spark://127.0.0.1:7077", False),
        ("k8s://https://10.0.0.1:443", False),
        ("yarn", False),
    ],
)
def test_only_non_local_masters_need_the_package_shipped(master, local):
    assert is_local(master) is local


def test_package_zip_holds_the_sources_without_bytecode(tmp_path):
    names = zipfile.ZipFile(package_zip(tmp_path)).namelist()
    assert {"app/__init__.py", "app/udfs.py", "app/settings.py", "app/config/production.toml"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_package_zip_is_importable_from_anywhere(tmp_path):
    archive = package_zip(tmp_path)
    # A fresh interpreter in an empty directory, with only the zip on its path: what a remote executor has.
    code = "import app.udfs, app.spark.pipeline; print(app.udfs.__file__)"
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {code}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.strip().startswith(str(archive))


def test_a_provided_session_is_used_and_never_stopped(spark):
    from app.settings import Settings
    from app.spark.session import session

    with session(Settings.load({"APP_ENV": "testing"})) as provided:
        assert provided is spark
    assert spark.range(3).count() == 3  # still alive: a runtime's session is not the job's to stop


def _listening(pid: int) -> set[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """The (address, port) pairs process `pid` listens on: its socket inodes matched in /proc/net/tcp{,6}."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            raw, port = cols[1].split(":")
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            packed = b"".join(bytes.fromhex(raw[i : i + 8])[::-1] for i in range(0, len(raw), 8))
            found.add((ipaddress.ip_address(packed), int(port, 16)))
    return found


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _non_loopback_ipv4() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_the_local_ui_answers_on_loopback_only_and_cannot_kill(spark):
    sc = spark.sparkContext
    assert sc.getConf().get("spark.ui.killEnabled") == "false"
    port = urllib.parse.urlsplit(sc.uiWebUrl).port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/applications", timeout=10) as response:
        assert response.status == 200 and sc.applicationId in response.read().decode()
    listening = _listening(sc._gateway.proc.pid)  # the driver JVM
    assert port in {p for _, p in listening}
    # Not just the UI: nothing the driver JVM serves (UI, RPC, block manager, py4j) is open to other hosts.
    assert {(str(a), p) for a, p in listening if not _loopback(a)} == set()
    if (address := _non_loopback_ipv4()) is not None:
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=5):
            pass


def test_python_workers_run_one_blas_thread_and_history_is_bounded(spark):
    import os

    seen = (
        spark.sparkContext.parallelize(range(2), 2)
        .map(lambda _: tuple(os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")))
        .collect()
    )
    assert set(seen) == {("1", "1", "1")}
    conf = spark.sparkContext.getConf()
    assert int(conf.get("spark.ui.retainedJobs")) <= 200 and int(conf.get("spark.sql.ui.retainedExecutions")) <= 100


def test_the_driver_jvm_runs_with_the_configured_java_options(spark):
    """DRIVER_JAVA_OPTIONS reaches the JVM the job starts: its own arguments, not just a conf entry."""
    from app.settings import Settings

    expected = Settings.load({"APP_ENV": "testing"}).spark.driver_java_options
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    assert expected and set(expected.split()) <= set(runtime.getInputArguments())


@pytest.mark.parametrize(
    ("choice", "location", "local_session", "filesystem"),
    [
        ("auto", ".local/checkpoints/ner", True, True),  # a local session resolves a bare path on the local disk
        ("auto", "/var/lib/ner/checkpoint", True, True),
        ("auto", "file:///var/lib/ner/checkpoint", False, True),
        ("auto", ".local/checkpoints/ner", False, False),  # a runtime's session: its default file system decides
        ("auto", "dbfs:/checkpoints/ner", False, False),
        ("auto", "hdfs://nn:8020/checkpoints/ner", True, False),
        ("auto", "s3a://bucket/checkpoints/ner", True, False),
        ("spark", ".local/checkpoints/ner", True, False),
        ("filesystem", "dbfs:/checkpoints/ner", False, True),
    ],
)
def test_the_local_disk_gets_the_filesystem_checkpoint_manager(choice, location, local_session, filesystem):
    from app.settings import Settings
    from app.spark.session import checkpoint_conf, filesystem_checkpoint_manager

    s = Settings.load({"APP_ENV": "testing", "CHECKPOINT_FILE_MANAGER": choice, "CHECKPOINT_LOCATION": location})
    manager = filesystem_checkpoint_manager("4.2.0")
    expected = {"spark.sql.streaming.checkpointFileManagerClass": manager} if filesystem else {}
    assert checkpoint_conf(s, local_session, "4.2.0") == expected


@pytest.mark.parametrize(
    ("version", "package"),
    [
        ("4.0.0", "org.apache.spark.sql.execution.streaming"),  # Databricks Runtime 17.3 LTS
        ("4.0.1", "org.apache.spark.sql.execution.streaming"),
        ("4.1.0", "org.apache.spark.sql.execution.streaming.checkpointing"),
        ("4.2.0", "org.apache.spark.sql.execution.streaming.checkpointing"),
    ],
)
def test_the_checkpoint_manager_is_named_as_that_spark_version_names_it(version, package):
    from app.spark.session import filesystem_checkpoint_manager

    assert filesystem_checkpoint_manager(version) == f"{package}.FileSystemBasedCheckpointFileManager"


def test_the_running_spark_has_the_checkpoint_manager_class_we_name(spark):
    from app.spark.session import filesystem_checkpoint_manager

    name = filesystem_checkpoint_manager(spark.version)
    loaded = spark.sparkContext._jvm.java.lang.Class.forName(name)  # raises ClassNotFoundException if renamed
    assert loaded.getName() == name


def _processes_started_by_checkpoint_writes(spark, checkpoint: Path) -> list[str]:
    """The commands the driver JVM started while a stream wrote three batches to `checkpoint` (JFR's
    jdk.ProcessStart events, recorded inside that JVM)."""
    jvm = spark.sparkContext._jvm
    recording = jvm.jdk.jfr.Recording()
    recording.enable("jdk.ProcessStart")
    recording.start()
    query = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", "10")
        .load()
        .writeStream.format("noop")
        .option("checkpointLocation", str(checkpoint))
        .start()
    )
    try:
        while query.lastProgress is None or query.lastProgress["batchId"] < 2:
            query.awaitTermination(0.2)
    finally:
        query.stop()
        recording.stop()
    dump = checkpoint.parent / "processes.jfr"
    recording.dump(jvm.java.io.File(str(dump)).toPath())
    recording.close()
    events = jvm.jdk.jfr.consumer.RecordingFile.readAllEvents(jvm.java.io.File(str(dump)).toPath())
    return [events.get(i).getString("command") for i in range(events.size())]


def test_checkpoint_writes_fork_no_readlink(spark, tmp_path):
    """The session the job builds (a local one, a checkpoint on the local disk) writes each log entry without a
    `readlink` process per rename; with Spark's default manager the same stream forks them."""
    key = "spark.sql.streaming.checkpointFileManagerClass"
    assert spark.conf.get(key, None) is not None
    ours = _processes_started_by_checkpoint_writes(spark, tmp_path / "ours" / "checkpoint")
    assert (tmp_path / "ours" / "checkpoint" / "commits" / "2").is_file()
    chosen = spark.conf.get(key)
    spark.conf.unset(key)
    try:
        default = _processes_started_by_checkpoint_writes(spark, tmp_path / "default" / "checkpoint")
    finally:
        spark.conf.set(key, chosen)
    assert not [c for c in ours if c.startswith("readlink")], ours
    assert len([c for c in default if c.startswith("readlink")]) >= 3 * 8, default  # ~8 per log entry, 2 per batch
