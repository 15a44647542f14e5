"""SIGSTOP and SIGCONT of a process tree (psutil), for the tests that jam the job as a hung host or library would."""

from __future__ import annotations

import psutil


def freeze(*roots: psutil.Process) -> list[psutil.Process]:
    """SIGSTOP processes and their descendants, parents first, until no new child shows up; the stopped ones."""
    stopped: dict[int, psutil.Process] = {}
    while new := [p for root in roots for p in (root, *root.children(recursive=True)) if p.pid not in stopped]:
        for proc in new:
            try:
                proc.suspend()
            except psutil.NoSuchProcess:
                pass
            stopped[proc.pid] = proc
    return list(stopped.values())


def thaw(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.resume()  # psutil refuses a pid that now names another process
        except psutil.NoSuchProcess:
            pass
