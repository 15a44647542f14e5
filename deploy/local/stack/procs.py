"""Process control by recorded pid: pid files that keep the process's start time, detached starts, and
SIGTERM-then-SIGKILL. Nothing here finds a process by name; a pid whose start time differs from the recorded one
belongs to another process (pids are reused) and is never signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


class StackError(RuntimeError):
    """A start, stop or check of the local stack failed; the message says what and where to look."""


def say(component: str, message: str) -> None:
    print(f">> {component}: {message}", file=sys.stderr, flush=True)


def repo_path(path: str | os.PathLike[str]) -> Path:
    """A setting's path: absolute as given, else relative to the repository (not to the caller's directory)."""
    p = Path(path)
    return p if p.is_absolute() else REPO / p


def _stat(pid: int) -> tuple[int, str, int, float] | None:
    """(parent pid, state, start time in clock ticks, CPU seconds) of a live process; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return int(fields[1]), fields[0], int(fields[19]), cpu


def start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[2]


def parent(pid: int) -> int | None:
    """The parent pid of a live process; None when it is gone."""
    stat = _stat(pid)
    return None if stat is None else stat[0]


def pids() -> list[int]:
    """Every process on the machine right now."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far; 0 when it is gone."""
    stat = _stat(pid)
    return 0.0 if stat is None else stat[3]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def alive(pid: int, start: int | None = None) -> bool:
    """Running (not a zombie) and, when `start` is given, still the process that started then."""
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z" and (start is None or stat[2] == start)


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root` as {pid: start time} (the start time tells a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for pid in pids():
        if (stat := _stat(pid)) is not None:
            children.setdefault(stat[0], []).append(pid)
            starts[pid] = stat[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def _reap(pid: int) -> None:
    """Collect our own child's exit status, so that it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _signal(pid: int, start: int | None, sig: int) -> bool:
    if not alive(pid, start):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminate(pid: int, start: int | None, timeout: float, label: str) -> None:
    """SIGTERM, wait up to `timeout` seconds for the exit, then SIGKILL; only while `pid` is still the process
    that started at `start` (None: the caller has just checked it)."""
    if not _signal(pid, start, signal.SIGTERM):
        return
    if _exited(pid, start, timeout):
        return
    say(label, f"pid {pid} still alive after {timeout:.0f}s: SIGKILL")
    _signal(pid, start, signal.SIGKILL)
    _exited(pid, start, 10)


def _exited(pid: int, start: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not alive(pid, start):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def stop_tree(pid: int, timeout: float, label: str) -> None:
    """SIGTERM `pid`, SIGKILL it after `timeout`, then SIGKILL whatever is left of the tree it had (by pid)."""
    tree = descendants(pid)
    terminate(pid, start_time(pid), timeout, label)
    kill_tree(tree)


def kill_tree(tree: Mapping[int, int], timeout: float = 10.0) -> list[int]:
    """SIGKILL each {pid: start time} still alive and wait (up to `timeout`) until they are gone; the pids
    signalled."""
    killed = [pid for pid, start in tree.items() if _signal(pid, start, signal.SIGKILL)]
    deadline = time.monotonic() + timeout
    for pid in killed:
        _exited(pid, tree[pid], max(0.0, deadline - time.monotonic()))
    return killed


@dataclass(frozen=True)
class PidFile:
    """`<pid> <start time>` of a process this project started: pid and start time name one process. `signature`
    (a word of its command line) stands in for the start time in a pid file written without one (by the shell
    scripts before this). The command line is not checked otherwise: it changes when the process execs (spark-class
    becomes java) and reads empty for a moment while it does."""

    path: Path
    signature: str

    def record(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid} {start_time(pid)}\n")

    def running(self) -> int | None:
        """The recorded pid while it is still the recorded process, else None."""
        try:
            words = self.path.read_text().split()
            pid, start = int(words[0]), (int(words[1]) if len(words) > 1 and words[1].isdigit() else None)
        except (OSError, ValueError, IndexError):
            return None
        if start is not None:
            return pid if alive(pid, start) else None
        return pid if alive(pid) and self.signature in cmdline(pid) else None

    def stop(self, timeout: float, label: str) -> int | None:
        """Stop the recorded process (if it still is) and forget it; returns the pid that was stopped."""
        pid = self.running()
        if pid is not None:
            terminate(pid, start_time(pid), timeout, label)
        self.path.unlink(missing_ok=True)
        return pid


def spawn(command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
          cwd: Path = REPO) -> subprocess.Popen:
    """Start `command` in the background in a session of its own (a Ctrl+C in the caller's terminal does not reach
    it), stdin closed, stdout and stderr to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        return subprocess.Popen(list(command), cwd=cwd, env=None if env is None else dict(env),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(ready: Callable[[], bool], pid: int, timeout: float, what: str, interval: float = 0.5,
               progress: Callable[[float], None] | None = None) -> float:
    """Poll `ready()` until true; seconds taken. Raises StackError if `pid` exits or `timeout` passes first."""
    t0 = time.monotonic()
    last = t0
    while not ready():
        _reap(pid)
        if not alive(pid):
            raise StackError(f"{what}: the process (pid {pid}) exited during start-up")
        now = time.monotonic()
        if now - t0 >= timeout:
            raise StackError(f"{what}: not ready within {timeout:.0f}s")
        if progress is not None and now - last >= 15:
            progress(now - t0)
            last = now
        time.sleep(interval)
    return time.monotonic() - t0


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"
