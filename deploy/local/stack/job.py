"""The streaming job as a process: `python -m app.run` started in the foreground of a test or the bench, or in the
background for local development (pid file, log, stop by SIGTERM, the job's one stop path)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .procs import REPO, PidFile, StackError, say

RUNNING = re.compile(r"query .* running")


class Job:
    """One `python -m app.run` child process with its log file, its process tree (driver, JVM, Python workers) and
    the ways to end it: SIGTERM, kill -9, and a teardown that kills by pid whatever is left."""

    def __init__(self, env: Mapping[str, str], log_path: Path, python: str = sys.executable) -> None:
        self.log_path = log_path
        with log_path.open("a") as log:
            self.proc = subprocess.Popen([python, "-m", "app.run"], cwd=REPO, env=dict(env), stdout=log,
                                         stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def tree(self) -> dict[int, int]:
        return procs.descendants(self.pid)

    def jvm_pid(self) -> int | None:
        return next((p for p in self.tree() if "org.apache.spark.deploy.SparkSubmit" in procs.cmdline(p)), None)

    def python_workers(self) -> list[int]:
        return [p for p in self.tree() if "pyspark.daemon" in procs.cmdline(p) or "pyspark.worker" in procs.cmdline(p)]

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill9(self, target: int | None = None, reap_timeout: float = 60.0) -> list[int]:
        """SIGKILL `target` (the driver by default): returns the pids of the tree still alive after the timeout."""
        start = procs.start_time(self.pid)
        tree = {self.pid: start, **self.tree()} if start is not None else self.tree()
        os.kill(target or self.pid, signal.SIGKILL)
        self.proc.wait(timeout=reap_timeout)
        deadline = time.monotonic() + reap_timeout
        while (left := [p for p, s in tree.items() if procs.alive(p, s)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def terminate(self, timeout: float = 120.0) -> int:
        """SIGTERM (the job's stop path) and its exit code."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Teardown: SIGKILL whatever is left of this job's tree, by pid."""
        tree = self.tree()
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=30)
        procs.kill_tree(tree)


@dataclass(frozen=True)
class BackgroundJob:
    """The job in the background for local development: `make up` starts it, `make down` stops it."""

    state_dir: Path
    python: str
    stop_timeout: float = 60.0
    start_timeout: float = 600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BackgroundJob:
        """APP_STATE_DIR [.local/app], APP_PYTHON [.venv/bin/python], APP_STOP_TIMEOUT [60], APP_START_TIMEOUT [600]."""
        return cls(state_dir=procs.repo_path(env.get("APP_STATE_DIR", ".local/app")),
                   python=str(procs.repo_path(env.get("APP_PYTHON", ".venv/bin/python"))),
                   stop_timeout=float(env.get("APP_STOP_TIMEOUT", "60")),
                   start_timeout=float(env.get("APP_START_TIMEOUT", "600")))

    @property
    def pidfile(self) -> PidFile:
        return PidFile(self.state_dir / "app.pid", "app.run")

    @property
    def log_path(self) -> Path:
        return self.state_dir / "app.log"

    def running(self) -> int | None:
        return self.pidfile.running()

    def start(self, env: Mapping[str, str]) -> None:
        """Start the job and return once its query runs (the first start also resolves the Kafka connector)."""
        if (pid := self.running()) is not None:
            say("app", f"already running (pid {pid})")
            return
        proc = procs.spawn([self.python, "-m", "app.run"], self.log_path, env)
        self.pidfile.record(proc.pid)
        say("app", f"started (pid {proc.pid}), logs: {self.log_path}; waiting for the query to run")

        def progress(seconds: float) -> None:
            say("app", f"still starting ({seconds:.0f}s): {procs.tail(self.log_path, 1)[:120]}")

        try:
            took = procs.wait_ready(lambda: bool(RUNNING.search(self.log_path.read_text(errors="replace"))),
                                    proc.pid, self.start_timeout, "the job", interval=1.0, progress=progress)
        except StackError:
            print(procs.tail(self.log_path, 30), file=sys.stderr)
            self.stop()
            raise
        say("app", f"running after {took:.0f}s")

    def stop(self) -> None:
        pid = self.pidfile.stop(self.stop_timeout, "app")
        say("app", "not running" if pid is None else f"stopped (pid {pid})")
