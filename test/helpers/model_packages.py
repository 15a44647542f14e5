"""spaCy model packages made by a test: a saved pipeline plus an `__init__.py`, importable from a folder on
PYTHONPATH and registered as an installed distribution, so SPACY_MODELS names it like any pip-installed model."""

from __future__ import annotations

from pathlib import Path

from spacy.language import Language

LOADER = """
from pathlib import Path

import spacy
{extra}

def load(**overrides):
    return spacy.load(Path(__file__).parent / "pipeline", **overrides)
"""


def write_package(path: Path, name: str, nlp: Language, extra_code: str = "") -> str:
    """Package `nlp` as `name` under `path` (put `path` on PYTHONPATH); returns the name."""
    package = path / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(LOADER.format(extra=extra_code), encoding="utf-8")
    nlp.to_disk(package / "pipeline")
    # spaCy loads a name only if it is an installed distribution: metadata beside the package makes it one.
    info = path / f"{name}-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.0\n", encoding="utf-8")
    return name
