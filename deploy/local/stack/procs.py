"""Process control by recorded pid, on psutil: pid files that keep the process's start time, detached starts, and
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

import psutil

REPO = Path(__file__).resolve().parents[3]
TICKS = os.sysconf("SC_CLK_TCK")


class StackError(RuntimeError):
    """A start, stop or check of the local stack failed; the message says what and where to look."""


def say(component: str, message: str) -> None:
    print(f">> {component}: {message}", file=sys.stderr, flush=True)


def repo_path(path: str | os.PathLike[str]) -> Path:
    """A setting's path: absolute as given, else relative to the repository (not to the caller's directory)."""
    p = Path(path)
    return p if p.is_absolute() else REPO / p


def _ticks(proc: psutil.Process) -> int:
    # The start in clock ticks since boot, as /proc/<pid>/stat has it and pid files keep it. psutil's create_time()
    # is that plus the boot time, a wall-clock reading that moves when the clock is set (psutil issue 2526): a
    # running broker would stop matching its pid file. Taking the boot time off again leaves the fixed tick count.
    return round((proc.create_time() - psutil.boot_time()) * TICKS)


def _process(pid: int, start: int | None = None) -> psutil.Process | None:
    """The live (not zombie) process `pid`, if it still is the one that started at `start` (None: any)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or (start is not None and _ticks(proc) != start):
            return None
    except psutil.Error:
        return None
    return proc


def start_time(pid: int) -> int | None:
    """When a live process started, in clock ticks since boot; with the pid it names one process. None if gone."""
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else _ticks(proc)
    except psutil.Error:
        return None


def alive(pid: int, start: int | None = None) -> bool:
    """Running (not a zombie) and, when `start` is given, still the process that started then."""
    return _process(pid, start) is not None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far; 0 when it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def cmdline(pid: int) -> str:
    """The command line, words joined by spaces; empty when the process is gone or a zombie."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def rss_bytes(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root` as {pid: start time} (the start time tells a reused pid apart)."""
    found: dict[int, int] = {}
    try:
        children = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return found
    for child in children:
        try:
            found[child.pid] = _ticks(child)
        except psutil.Error:
            pass
    return found


def _gone(proc: psutil.Process) -> bool:
    """Exited: reaped (ours is reaped here, so it does not linger as a zombie), a zombie its own parent has yet to
    reap, or its pid now another process's. psutil.wait_procs would wait out a zombie that is not our child."""
    try:
        proc.wait(timeout=0)
        return True
    except psutil.TimeoutExpired:
        pass
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until every process has exited or `timeout` passes; the ones still running."""
    deadline = time.monotonic() + timeout
    while (left := [p for p in procs if not _gone(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _send(proc: psutil.Process, sig: int) -> bool:
    # psutil checks pid and start time again before the signal leaves: a pid reused since is never signalled.
    try:
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        return False
    return True


def terminate(pid: int, start: int | None, timeout: float, label: str) -> None:
    """SIGTERM, wait up to `timeout` seconds for the exit, then SIGKILL; only while `pid` is still the process
    that started at `start` (None: the caller has just checked it)."""
    proc = _process(pid, start)
    if proc is None or not _send(proc, signal.SIGTERM) or not _wait_gone([proc], timeout):
        return
    say(label, f"pid {pid} still alive after {timeout:.0f}s: SIGKILL")
    _send(proc, signal.SIGKILL)
    _wait_gone([proc], 10)


def stop_tree(pid: int, timeout: float, label: str) -> None:
    """SIGTERM `pid`, SIGKILL it after `timeout`, then SIGKILL whatever is left of the tree it had (by pid)."""
    tree = descendants(pid)
    terminate(pid, start_time(pid), timeout, label)
    kill_tree(tree)


def kill_tree(tree: Mapping[int, int], timeout: float = 10.0) -> list[int]:
    """SIGKILL each {pid: start time} still alive and wait (up to `timeout`) until they are gone; the pids
    signalled."""
    found = (_process(pid, start) for pid, start in tree.items())
    killed = [proc for proc in found if proc is not None and _send(proc, signal.SIGKILL)]
    _wait_gone(killed, timeout)
    return [proc.pid for proc in killed]


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


def spawn(
    command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, cwd: Path = REPO
) -> subprocess.Popen:
    """Start `command` in the background in a session of its own (a Ctrl+C in the caller's terminal does not reach
    it), stdin closed, stdout and stderr to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(
    ready: Callable[[], bool],
    pid: int,
    timeout: float,
    what: str,
    interval: float = 0.5,
    progress: Callable[[float], None] | None = None,
) -> float:
    """Poll `ready()` until true; seconds taken. Raises StackError if `pid` exits or `timeout` passes first."""
    try:
        proc: psutil.Process | None = psutil.Process(pid)
    except psutil.Error:
        proc = None
    t0 = time.monotonic()
    last = t0
    while not ready():
        if proc is None or _gone(proc):
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
