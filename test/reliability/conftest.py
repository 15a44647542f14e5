"""Fixtures of the reliability tests: job processes that are always reaped, and keyed corpus records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from test.reliability.processes import Job


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[Callable[..., Job]]:
    """A factory `start(env, name="job") -> Job`; every job's process tree is killed by pid at teardown."""
    started: list[Job] = []

    def start(env: dict[str, str], name: str = "job") -> Job:
        job = Job(env, tmp_path / f"{name}.log")
        started.append(job)
        return job

    try:
        yield start
    finally:
        for job in started:
            job.cleanup()


def keyed_records(corpus: list[dict], n: int, max_chars: int = 400, prefix: str = "rel") -> list[tuple[bytes, bytes]]:
    """`n` messages with unique uuids (also the key), cycling over the corpus' shorter texts."""
    texts = [d["text"] for d in corpus if len(d["text"]) <= max_chars]
    docs = [{"uuid": f"{prefix}-{i:07d}", "text": texts[i % len(texts)], "lang": "en"} for i in range(n)]
    return [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every fault test runs the job on a real broker (its own or the session's): never a unit test.
    for item in items:
        if item.get_closest_marker("reliability"):
            item.add_marker(pytest.mark.integration)
