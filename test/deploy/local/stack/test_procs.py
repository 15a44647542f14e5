"""Process control by recorded pid: a pid file names one process (pid and start time), never a reused pid."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import procs
from deploy.local.stack.procs import PidFile, StackError

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(600)"
)


@pytest.fixture
def child() -> Iterator[subprocess.Popen]:
    """A sleeping Python child of this test; killed at teardown if still there."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_recorded_process_is_found_and_stopped(child, tmp_path: Path):
    pidfile = PidFile(tmp_path / "x.pid", "time.sleep")
    pidfile.record(child.pid)
    assert pidfile.running() == child.pid
    start = procs.start_time(child.pid)
    assert pidfile.stop(5, "x") == child.pid
    assert not procs.alive(child.pid, start)  # gone (and reaped: terminate collects its own children)
    assert not pidfile.path.exists() and pidfile.running() is None


def test_a_reused_pid_is_never_signalled(child, tmp_path: Path):
    # The pid is recorded with another start time: the process that has it now is not the one that was started.
    start = procs.start_time(child.pid)
    pidfile = PidFile(tmp_path / "x.pid", "time.sleep")
    pidfile.path.write_text(f"{child.pid} {start - 1}\n")
    assert pidfile.running() is None
    assert pidfile.stop(5, "x") is None
    time.sleep(0.3)
    assert child.poll() is None  # still alive


def test_a_pid_file_without_start_time_needs_the_signature(child, tmp_path: Path):
    (tmp_path / "x.pid").write_text(f"{child.pid}\n")  # as the shell scripts wrote them
    assert PidFile(tmp_path / "x.pid", "time.sleep").running() == child.pid
    assert PidFile(tmp_path / "x.pid", "kafka.Kafka").running() is None
    PidFile(tmp_path / "x.pid", "kafka.Kafka").stop(5, "x")
    assert child.poll() is None


def test_terminate_escalates_to_sigkill(tmp_path: Path):
    log = tmp_path / "stubborn.log"
    proc = procs.spawn([sys.executable, "-c", IGNORES_SIGTERM], log)
    procs.wait_ready(lambda: "up" in log.read_text(), proc.pid, 30, "stubborn")
    started = time.monotonic()
    start = procs.start_time(proc.pid)
    procs.terminate(proc.pid, start, 1, "stubborn")
    assert not procs.alive(proc.pid, start)
    assert 1 <= time.monotonic() - started < 5


def test_spawn_detaches_and_logs(tmp_path: Path):
    log = tmp_path / "out.log"
    proc = procs.spawn([sys.executable, "-c", "import os; print('session', os.getsid(0))"], log)
    assert proc.wait(timeout=30) == 0
    assert log.read_text().split() == ["session", str(proc.pid)]  # its own session: Ctrl+C here does not reach it
    assert os.getsid(0) != proc.pid


def test_wait_ready_fails_when_the_process_exits(tmp_path: Path):
    proc = procs.spawn([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "x.log")
    with pytest.raises(StackError, match="exited during start-up"):
        procs.wait_ready(lambda: False, proc.pid, 30, "x")


def test_descendants_and_kill_tree(tmp_path: Path):
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not (tree := procs.descendants(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(tree) == 1
        ((grandchild, start),) = tree.items()
        assert procs.rss_bytes(grandchild) > 0 and procs.alive(grandchild, start)
        assert procs.kill_tree({proc.pid: procs.start_time(proc.pid), **tree}) == [proc.pid, grandchild]
        assert not procs.alive(proc.pid) and not procs.alive(grandchild, start)  # gone when kill_tree returns
    finally:
        proc.kill()
        proc.wait()


def test_stop_tree_leaves_nothing_behind(tmp_path: Path):
    # The parent exits on SIGTERM and leaves its child running (reparented): stop_tree still finds it by pid.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True); "
        "print('up', flush=True); time.sleep(600)"
    )
    log = tmp_path / "tree.log"
    proc = procs.spawn([sys.executable, "-c", script], log)
    procs.wait_ready(lambda: "up" in log.read_text() and bool(procs.descendants(proc.pid)), proc.pid, 30, "tree")
    tree = procs.descendants(proc.pid)
    procs.stop_tree(proc.pid, 5, "tree")
    assert not procs.alive(proc.pid) and not any(procs.alive(p, s) for p, s in tree.items())
