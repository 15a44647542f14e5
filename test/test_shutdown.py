"""The one stop path: a real SIGTERM or SIGINT asks the query to stop after the batch in flight, a second Ctrl+C
interrupts, and wait_for returns, raises the query's failure, or a dead worker's error."""

import logging
import os
import signal
import threading
import time

import pytest
from pyspark.errors import StreamingQueryException
from pyspark.sql import functions as F

from app.shutdown import StopSignal, wait_for


@pytest.fixture
def stop():
    """A StopSignal installed for this test only: the previous handlers come back whatever happens."""
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield StopSignal().install()
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def send(signum: int, stop: StopSignal | None = None) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs in the main thread at its next bytecode
    if stop is not None:
        assert stop.requested.wait(5)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_first_signal_requests_a_stop(stop, signum):
    assert not stop.requested.is_set()
    send(signum, stop)
    assert signal.getsignal(signal.SIGTERM) == signal.getsignal(signal.SIGINT) == stop._handle


def test_a_second_ctrl_c_interrupts_and_a_second_sigterm_does_not(stop):
    send(signal.SIGTERM, stop)
    send(signal.SIGTERM)  # a repeated SIGTERM (an orchestrator's retry) still waits for the drain
    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)


def rate_query(spark, tmp_path, condition=None):
    frame = spark.readStream.format("rate").option("rowsPerSecond", 20).load()
    if condition is not None:
        frame = frame.select(F.assert_true(condition, "value 5 is poison").alias("checked"))
    return frame.writeStream.format("noop").option("checkpointLocation", str(tmp_path / "checkpoint")).start()


def test_a_signal_during_the_wait_stops_the_query_after_draining(spark, stop, tmp_path, caplog):
    query = rate_query(spark, tmp_path)
    checks = []
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    try:
        timer.start()
        with caplog.at_level(logging.INFO, logger="app.shutdown"):
            wait_for(query, stop, lambda: checks.append(1), drain_seconds=30, poll=1)
        assert not query.isActive  # stopped by wait_for itself
    finally:
        timer.cancel()  # never a late SIGTERM once the default handler is back
        timer.join()
        query.stop()
    assert query.exception() is None and time.monotonic() - started < 30
    assert checks and "received SIGTERM" in caplog.text
    assert "(idle)" in caplog.text or "(the batch in flight committed)" in caplog.text


def test_a_failed_query_raises_its_exception(spark, stop, tmp_path):
    query = rate_query(spark, tmp_path, F.col("value") != 5)
    with pytest.raises(StreamingQueryException, match="value 5 is poison"):
        wait_for(query, stop, lambda: None, drain_seconds=5)
    assert not stop.requested.is_set()


def test_a_dead_worker_ends_the_wait_with_its_error(spark, stop, tmp_path):
    query = rate_query(spark, tmp_path)

    def check() -> None:
        raise RuntimeError("background worker 'offsets-committer' died")

    try:
        with pytest.raises(RuntimeError, match="offsets-committer"):
            wait_for(query, stop, check, drain_seconds=5)
    finally:
        query.stop()
