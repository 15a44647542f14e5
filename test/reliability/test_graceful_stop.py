"""SIGTERM mid-stream, as a deploy or a restart sends it: the micro-batch in flight finishes, the job exits 0, and
the restarted job writes every message exactly once (counted by source offset)."""

from __future__ import annotations

import time

import pytest

from test.helpers.jobs import Backlog
from test.helpers.streams import Tail, keyed_records

pytestmark = pytest.mark.reliability


def run_stops(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path, n: int, stops: int, per_batch: int) -> None:
    stream = Backlog.make(
        kafka_bootstrap, kafka_topics, tmp_path / "ckpt", keyed_records(corpus, n, prefix="stop"), per_batch
    )
    tail = stream.tail
    stop_seconds = []
    for stop in range(stops):
        job = jobs(stream.env, f"run-{stop}")
        stream.wait_for_output(job, tail.poll(0) + per_batch, f"run {stop} writes output")
        assert len(set(tail.sources())) < n, "the stream ended before the stop: use more messages"
        started = time.monotonic()
        assert job.terminate(timeout=180) == 0, job.log()
        stop_seconds.append(round(time.monotonic() - started, 1))
        _drain(tail)
        assert "the batch in flight committed" in job.log(20_000) or "(idle)" in job.log(20_000), job.log()
    inputs, sources = stream.drain(jobs, ASYNC_PROGRESS_TRACKING="false")
    duplicates = len(sources) - len(set(sources))
    print(
        f"\nRELIABILITY graceful-stop: messages={n} sigterm_restarts={stops} maxOffsetsPerTrigger={per_batch} "
        f"lost={len(inputs - set(sources))} duplicates={duplicates} stop_seconds={stop_seconds}"
    )
    assert set(sources) == inputs
    assert duplicates == 0


def _drain(tail: Tail) -> None:
    """Read what the stopped run wrote, so that the next run's progress is its own."""
    count = tail.poll(1)
    while tail.poll(2) > count:
        count = tail.poll(0)


@pytest.mark.timeout(900)
def test_sigterm_restart_writes_no_duplicates(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    run_stops(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path, n=2_000, stops=2, per_batch=100)


@pytest.mark.slow
@pytest.mark.reliability_full
@pytest.mark.timeout(3600)
def test_sigterm_restart_writes_no_duplicates_full(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    run_stops(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path, n=20_000, stops=5, per_batch=500)
