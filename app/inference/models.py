"""The spaCy models: which are installed, loading one with only what NER needs, and a model's identity."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import spacy
from spacy.language import Language

log = logging.getLogger(__name__)

# Components NER does not need in spaCy's trained pipelines. tok2vec is dropped separately, only when no remaining
# component listens to it (en_core_web_sm's and fr_core_news_sm's ner have their own embedding layers).
NOT_NEEDED_FOR_NER = ("tagger", "parser", "lemmatizer", "attribute_ruler", "senter", "morphologizer")


def _target(model: str) -> str | Path:
    return Path(model) if ("/" in model or model.startswith(".")) else model


def installed(model: str) -> bool:
    """A package that can be imported, or a directory: checked at start, before any worker tries to load it."""
    target = _target(model)
    if isinstance(target, Path):
        return (target / "config.cfg").is_file()
    try:
        return importlib.util.find_spec(model) is not None
    except (ImportError, ValueError):  # "a.b" whose package "a" does not exist; an empty or relative name
        return False


def load_pipeline(model: str, keep: Sequence[str] = ()) -> Language:
    """Load a spaCy package name or path with only what NER needs (plus the components in `keep`)."""
    exclude = [name for name in NOT_NEEDED_FOR_NER if name not in keep]
    nlp = spacy.load(_target(model), exclude=exclude)
    if "ner" not in nlp.pipe_names:
        msg = f"spaCy model {model!r} has no 'ner' component (components: {nlp.pipe_names})"
        raise ValueError(msg)
    if "tok2vec" in nlp.pipe_names and "tok2vec" not in keep:
        if not getattr(nlp.get_pipe("tok2vec"), "listening_components", []):
            nlp.remove_pipe("tok2vec")
    log.info("loaded spaCy model %s %s with components %s", model, nlp.meta.get("version"), nlp.pipe_names)
    return nlp


def model_identity(nlp: Language) -> tuple[str, str]:
    """The model's name and version as its meta declares them (e.g. en_core_web_sm, 3.8.0)."""
    meta = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'unknown')}", str(meta.get("version", "unknown"))


def missing(models: Mapping[str, str]) -> list[str]:
    """The configured models that are not installed, as "lang=model"."""
    return [f"{lang}={model}" for lang, model in models.items() if not installed(model)]
