"""The one stop path: SIGTERM and SIGINT ask the query to stop, after the micro-batch in flight has committed."""

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)


class StopSignal:
    """SIGTERM/SIGINT set an event the main loop polls; a second SIGINT raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def install(self) -> "StopSignal":
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("received %s: stopping the query", signal.Signals(signum).name)
        self.requested.set()


def wait_for(
    query: StreamingQuery, stop: StopSignal, check: Callable[[], None], drain_seconds: float, poll: int = 1
) -> None:
    """Wait until the query ends by itself or a stop is requested; `check` raises if a worker died. A failed
    query raises its StreamingQueryException here."""
    while not query.awaitTermination(poll):
        check()
        if stop.requested.is_set():
            started = time.monotonic()
            how = drain(query, drain_seconds)
            query.stop()
            log.info("query stopped in %.1f s (%s)", time.monotonic() - started, how)
            return


def _batch_id(query: StreamingQuery) -> int | None:
    progress = query.lastProgress
    return None if progress is None else progress.get("batchId")


def drain(query: StreamingQuery, timeout: float, poll: float = 0.005) -> str:
    """Let the micro-batch in flight finish before the query is stopped, so a routine stop writes no duplicates.

    Stopping interrupts a running batch: what its tasks already wrote is written again after the restart. Spark
    reports a batch's progress only after its commit log entry is written, so the stop comes right after a new
    progress (the next batch has not written anything yet: its first rows are still in the model), or at once
    when the query is idle.
    """
    deadline = time.monotonic() + timeout
    before = _batch_id(query)
    while time.monotonic() < deadline and query.isActive:
        status = query.status
        if not status["isDataAvailable"] and not status["isTriggerActive"]:
            return "idle"
        if _batch_id(query) != before:
            return "the batch in flight committed"
        time.sleep(poll)
    return "timed out waiting for the batch in flight" if query.isActive else "the query ended"
