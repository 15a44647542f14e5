"""The job as an OS process tree: start `python -m app.run`, find its JVM and Python workers, kill -9, reap, RSS.

Everything works by pid through /proc; nothing here kills by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time in clock ticks) of a live process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root` as {pid: start time} (the start time tells a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[0], []).append(int(entry))
            starts[int(entry)] = stat[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def alive(pid: int, start: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[1] != "Z"


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Job:
    """One `python -m app.run` subprocess with its log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "app.run"], cwd=REPO, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def tree(self) -> dict[int, int]:
        return descendants(self.pid)

    def jvm_pid(self) -> int | None:
        return next((p for p in self.tree() if "org.apache.spark.deploy.SparkSubmit" in cmdline(p)), None)

    def python_workers(self) -> list[int]:
        return [p for p in self.tree() if "pyspark.daemon" in cmdline(p) or "pyspark.worker" in cmdline(p)]

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill9(self, target: int | None = None, reap_timeout: float = 60.0) -> list[int]:
        """SIGKILL `target` (the driver by default): returns the pids of the tree still alive after the timeout."""
        tree = {self.pid: _stat(self.pid)[2], **self.tree()} if _stat(self.pid) else self.tree()
        os.kill(target or self.pid, signal.SIGKILL)
        self.proc.wait(timeout=reap_timeout)
        deadline = time.monotonic() + reap_timeout
        while (left := [p for p, s in tree.items() if alive(p, s)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def terminate(self, timeout: float = 120.0) -> int:
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Teardown: SIGKILL whatever is left of this job's tree, by pid."""
        tree = self.tree()
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=30)
        for pid, start in tree.items():
            if alive(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
