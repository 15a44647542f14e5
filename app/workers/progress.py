"""The progress poller: hands each completed micro-batch's progress to the side workers.

It polls the running query's `lastProgress` instead of registering a Python `StreamingQueryListener`. PySpark
turns every listener event into Python objects field by field over py4j (milliseconds of driver work per batch, and
a JVM class search for each event); a poll is two py4j calls and one JSON parse, whatever the batch rate. A batch
that completed between two polls is picked up from `recentProgress`, so none is skipped (Spark keeps the last
`spark.sql.streaming.numRecentProgressUpdates`, 100 by default, far more than one interval holds).
"""

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app import logs
from app.workers.worker import Worker

log = logging.getLogger(__name__)
ProgressFn = Callable[[dict[str, Any]], None]


class Progress(Protocol):
    @property
    def json(self) -> str: ...


class Query(Protocol):
    """What the poller reads of a `pyspark.sql.streaming.StreamingQuery`."""

    @property
    def lastProgress(self) -> Progress | None: ...  # noqa: N802 - pyspark's name

    @property
    def recentProgress(self) -> Sequence[Progress]: ...  # noqa: N802 - pyspark's name


def _as_dict(progress: Progress) -> dict[str, Any]:
    return json.loads(progress.json)


class ProgressPoller(Worker):
    """Every `interval` seconds, hands the watched query's new batches' progress (as dicts, in batch order) to
    `on_progress`, each batch once per run. `finish()` hands what is left of a query that has ended."""

    name = "progress-poller"

    def __init__(self, on_progress: ProgressFn, interval: float = 0.5) -> None:
        super().__init__(interval)
        self._on_progress = on_progress
        self._lock = threading.Lock()  # one step at a time: the thread's, or finish() in the caller's
        self._query: Query | None = None
        self._seen: tuple[str, int] | None = None  # (runId, batchId) of the last batch handed on

    def watch(self, query: Query) -> None:
        with self._lock:
            self._query = query

    def finish(self, query: Query) -> None:
        """Hand on the ended query's last batches and stop watching it. A failure is logged and counted as in any
        step (`Worker._safe_step`), so it never hides how the query itself ended (the supervisor calls this in a
        `finally`)."""
        self.watch(query)
        self._safe_step()
        with self._lock:
            if self._query is query:
                self._query = None

    def step(self) -> None:
        with self._lock:
            if self._query is not None:
                self._poll(self._query)

    def _poll(self, query: Query) -> None:
        last = query.lastProgress
        if last is None:
            return
        newest = _as_dict(last)
        run, batch = str(newest.get("runId")), int(newest.get("batchId", -1))
        if self._seen == (run, batch):
            return
        after = self._seen[1] if self._seen is not None and self._seen[0] == run else None
        if after is None or batch > after + 1:  # a new run, or batches completed since the last poll
            missed = [
                p
                for p in map(_as_dict, query.recentProgress)
                if str(p.get("runId")) == run
                and (after is None or after < int(p.get("batchId", -1)))
                and int(p.get("batchId", -1)) < batch
            ]
        else:
            missed = []
        for progress in [*sorted(missed, key=lambda p: int(p["batchId"])), newest]:
            self._seen = (run, int(progress["batchId"]))  # before handing on: a failing handler is not retried
            self._hand_on(progress)

    def _hand_on(self, progress: dict[str, Any]) -> None:
        logs.set_query(str(progress.get("runId")), int(progress.get("batchId", -1)))
        log.debug(
            "batch %s: %s rows, durations ms %s",
            progress.get("batchId"),
            progress.get("numInputRows"),
            progress.get("durationMs"),
        )
        self._on_progress(progress)
