"""A clone of the repository tests and benchmarks as it is: nothing reads a file outside the checkout.

The tracked files are copied into an empty folder (what `git clone` gives, plus uncommitted edits to tracked files)
with a decoy `shared/data/bench.jsonl` beside it, where the corpus used to live. A child Python records every
file and directory it opens (`sys.addaudithook`) while the clone's pytest runs the `corpus` fixture and the
bench's loader; anything opened outside the clone, the interpreter and the system directories fails the test.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Runs in the child: install the hook before anything is imported, then let pytest load the clone's conftest.
_CHILD = r"""
import json, os, sys

allowed = tuple(json.loads(sys.argv[1]))
outside = set()

def audit(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if not any(path == a or path.startswith(a + os.sep) for a in allowed):
            outside.add(path)

sys.addaudithook(audit)
import pytest

rc = pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[2]])
print("OUTSIDE=" + json.dumps(sorted(outside)))
sys.exit(rc)
"""

# Written into the clone's test/ folder: the fixture the tests use, and the loader the bench uses.
_PROBE = """
from bench.corpus import load_docs


def test_corpus_comes_from_the_clone(corpus):
    assert len(corpus) == 6189, f"{len(corpus)} documents: not the repository's corpus"
    assert load_docs(limit=10) == corpus[:10]
"""


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True)
    return [name for name in out.stdout.decode().split("\0") if name]


def _allowed(clone: Path) -> list[str]:
    """The clone, the interpreter's prefixes (the venv, the base Python) and the system's own directories."""
    roots = {clone, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
    roots |= {Path(p) for p in ("/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev")}
    both = {str(p) for p in roots} | {str(p.resolve()) for p in roots}
    return sorted(both)


@pytest.mark.skipif(
    not (REPO / ".git").exists() or shutil.which("git") is None,
    reason="not a git checkout (the image's build context): no clone to make",
)
def test_a_clone_reads_nothing_outside_itself(tmp_path):
    clone = tmp_path / "clone"
    for name in _tracked_files():
        src = REPO / name
        if src.is_file():  # a tracked file deleted in the work tree is not in the next commit either
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / name)
    # The decoy: where the corpus used to be read from, beside the checkout.
    decoy = tmp_path / "shared" / "data" / "bench.jsonl"
    decoy.parent.mkdir(parents=True)
    decoy.write_text(json.dumps({"uuid": "decoy", "text": "Not the corpus.", "lang": "en"}) + "\n")
    (clone / "test" / "test_zz_self_contained_probe.py").write_text(_PROBE)

    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_DATA", "PYTHONPATH", "PYTEST_ADDOPTS")}
    # Scratch files (pytest's output capture) go inside the clone too: temporary, not read from outside.
    scratch = clone / ".tmp"
    scratch.mkdir()
    env |= {"PYTHONPATH": str(clone), "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(scratch)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(_allowed(clone)), "test/test_zz_self_contained_probe.py"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    report = proc.stdout.rsplit("OUTSIDE=", 1)
    assert len(report) == 2, f"the child did not finish:\n{proc.stdout}\n{proc.stderr}"
    outside = json.loads(report[1])
    assert outside == [], f"a clone opened files outside itself: {outside}"
    assert proc.returncode == 0, f"the clone's corpus probe failed:\n{proc.stdout}\n{proc.stderr}"
