"""Running this project's make targets from a test: a clean environment (no CI or user variables leaking in)."""

from __future__ import annotations

import os
import subprocess

from test.helpers.deploy_env import ROOT

MAKE_ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYENV_ROOT", "LANG", "TMPDIR")}


def make(*args: str, dry: bool = False) -> subprocess.CompletedProcess[str]:
    """`make [-n] args...` at the project root; the result, whatever its exit code."""
    command = ["make", *(["-n"] if dry else []), "--no-print-directory", *args]
    return subprocess.run(command, cwd=ROOT, env=MAKE_ENV, capture_output=True, text=True)


def dry_run(*args: str) -> str:
    """The commands `make -n args...` would run (fails the test if make refuses)."""
    done = make(*args, dry=True)
    assert done.returncode == 0, done.stderr
    return done.stdout
