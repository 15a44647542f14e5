"""SIGTERM mid-stream, as a deploy or a restart sends it: the micro-batch in flight finishes, the job exits 0, and
the restarted job writes every message exactly once (counted by source offset)."""

from __future__ import annotations

import time

import pytest

from test.fixtures.kafka import produce
from test.reliability.broker import Tail
from test.reliability.conftest import keyed_records
from test.test_run import end_offsets, job_env

pytestmark = pytest.mark.reliability


def run_stops(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path, n: int, stops: int, per_batch: int) -> None:
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], keyed_records(corpus, n, prefix="stop"))
    env = job_env(kafka_bootstrap, topics, tmp_path / "ckpt", MAX_OFFSETS_PER_TRIGGER=str(per_batch),
                  TRIGGER_INTERVAL="0 seconds")
    tail = Tail(kafka_bootstrap, topics[1], topics[2])
    stop_seconds = []
    for stop in range(stops):
        job = jobs(env, f"run-{stop}")
        before = tail.poll(0)
        tail.wait_until(lambda b=before: tail.poll(0) > b + per_batch, 300, f"run {stop} writes output",
                        still_ok=lambda j=job: _assert_running(j))
        assert len(set(tail.sources())) < n, "the stream ended before the stop: use more messages"
        started = time.monotonic()
        assert job.terminate(timeout=180) == 0, job.log()
        stop_seconds.append(round(time.monotonic() - started, 1))
        _drain(tail)
        assert "the batch in flight committed" in job.log(20_000) or "(idle)" in job.log(20_000), job.log()
    final = jobs({**env, "TRIGGER_INTERVAL": "available-now", "MAX_OFFSETS_PER_TRIGGER": "0",
                  "ASYNC_PROGRESS_TRACKING": "false"}, "final")
    assert final.proc.wait(timeout=900) == 0, final.log()
    inputs = {(t, p, o) for (t, p), end in end_offsets(kafka_bootstrap, topics[0], 2).items() for o in range(end)}
    tail.wait_until(lambda: set(tail.sources()) >= inputs, 120, "every message in result or dead-letter")
    tail.poll(2)
    sources = tail.sources()
    tail.close()
    duplicates = len(sources) - len(set(sources))
    print(f"\nRELIABILITY graceful-stop: messages={n} sigterm_restarts={stops} maxOffsetsPerTrigger={per_batch} "
          f"lost={len(inputs - set(sources))} duplicates={duplicates} stop_seconds={stop_seconds}")
    assert set(sources) == inputs
    assert duplicates == 0


def _drain(tail: Tail) -> None:
    """Read what the stopped run wrote, so that the next run's progress is its own."""
    count = tail.poll(1)
    while tail.poll(2) > count:
        count = tail.poll(0)


def _assert_running(job):
    assert job.running(), job.log()


@pytest.mark.timeout(900)
def test_sigterm_restart_writes_no_duplicates(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    run_stops(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path, n=2_000, stops=2, per_batch=100)


@pytest.mark.slow
@pytest.mark.reliability_full
@pytest.mark.timeout(3600)
def test_sigterm_restart_writes_no_duplicates_full(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    run_stops(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path, n=20_000, stops=5, per_batch=500)
