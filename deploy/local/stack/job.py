"""The streaming job in the background for local development: `python -m app.run` with a pid file and a log,
stopped by SIGTERM (the job's one stop path)."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .procs import PidFile, StackError, say

RUNNING = re.compile(r"query .* running")


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
        return cls(
            state_dir=procs.repo_path(env.get("APP_STATE_DIR", ".local/app")),
            python=str(procs.repo_path(env.get("APP_PYTHON", ".venv/bin/python"))),
            stop_timeout=float(env.get("APP_STOP_TIMEOUT", "60")),
            start_timeout=float(env.get("APP_START_TIMEOUT", "600")),
        )

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
            took = procs.wait_ready(
                lambda: bool(RUNNING.search(self.log_path.read_text(errors="replace"))),
                proc.pid,
                self.start_timeout,
                "the job",
                interval=1.0,
                progress=progress,
            )
        except StackError:
            print(procs.tail(self.log_path, 30), file=sys.stderr)
            self.stop()
            raise
        say("app", f"running after {took:.0f}s")

    def stop(self) -> None:
        pid = self.pidfile.stop(self.stop_timeout, "app")
        say("app", "not running" if pid is None else f"stopped (pid {pid})")
