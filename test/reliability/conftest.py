"""Fixtures of the reliability tests: job processes that are always reaped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from test.helpers.jobs import Job


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every fault test runs the job on a real broker (its own or the session's): never a unit test.
    for item in items:
        if item.get_closest_marker("reliability"):
            item.add_marker(pytest.mark.integration)
