"""The sampler tells a process tree that spins from one that waits: the check that keeps a contender which came up
stuck (busy with no input) out of the measurements."""

import subprocess
import sys

from bench.procs import TreeSampler
from deploy.local.stack import procs

# The spinning process is a child of the root, as a contender's workers are children of its launcher.
SPINNING_CHILD = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"
WAITING = "import time; time.sleep(120)"


def cores_of(code: str, seconds: float = 1.5) -> float:
    proc = subprocess.Popen([sys.executable, "-c", code])
    sampler = TreeSampler(proc.pid)
    try:
        sampler.cores_used(0.5)  # the child is started and its CPU seen once before the window
        return sampler.cores_used(seconds)
    finally:
        procs.stop_tree(proc.pid, 5, "test")  # the root and every descendant it had, by pid
        proc.wait()


def test_a_spinning_child_keeps_about_a_core_busy():
    assert cores_of(SPINNING_CHILD) > 0.5


def test_a_waiting_process_keeps_none_busy():
    assert cores_of(WAITING) < 0.1
