"""The progress poller: every batch handed on once and in order, batches between polls not skipped, a new run
(after the quarantine restarts the query) read from its start; and the same against a real Spark query."""

import json
import time
from dataclasses import dataclass, field

import pytest

from app.workers.progress import ProgressPoller


@dataclass
class Progress:
    body: dict

    @property
    def json(self) -> str:
        return json.dumps(self.body)


@dataclass
class ScriptedQuery:
    """Holds the progress a query run has reported so far, as Spark's StreamingQuery exposes it."""

    run: str
    reported: list[dict] = field(default_factory=list)
    recent_reads: int = 0

    def complete(self, *batches: int) -> None:
        self.reported += [{"runId": self.run, "batchId": b, "numInputRows": b * 10} for b in batches]

    @property
    def lastProgress(self) -> Progress | None:  # noqa: N802
        return Progress(self.reported[-1]) if self.reported else None

    @property
    def recentProgress(self) -> list[Progress]:  # noqa: N802
        self.recent_reads += 1
        return [Progress(p) for p in self.reported[-100:]]


def handed(poller_out: list[dict]) -> list[tuple[str, int]]:
    return [(p["runId"], p["batchId"]) for p in poller_out]


def test_each_batch_once_in_order_including_those_between_polls():
    out: list[dict] = []
    poller = ProgressPoller(out.append, interval=60)
    query = ScriptedQuery("r1")
    poller.watch(query)
    poller.step()
    assert out == []  # no progress yet
    query.complete(0)
    poller.step()
    poller.step()  # nothing new: not handed again
    query.complete(1, 2, 3)  # three batches between two polls
    poller.step()
    assert handed(out) == [("r1", 0), ("r1", 1), ("r1", 2), ("r1", 3)]
    reads = query.recent_reads
    query.complete(4)
    poller.step()  # one new batch: lastProgress alone, no recentProgress read
    assert handed(out)[-1] == ("r1", 4) and query.recent_reads == reads


def test_a_restarted_run_is_read_from_its_first_batch_and_finish_hands_the_last():
    out: list[dict] = []
    poller = ProgressPoller(out.append, interval=60)
    first = ScriptedQuery("r1")
    first.complete(7, 8)
    poller.watch(first)
    poller.step()
    first.complete(9)
    poller.finish(first)  # the run ended: its last batch still reaches the committer
    poller.step()  # watching nothing now
    second = ScriptedQuery("r2")  # the checkpoint's numbering goes on in the new run
    second.complete(9, 10, 11)
    poller.watch(second)
    poller.step()
    assert handed(out) == [("r1", 7), ("r1", 8), ("r1", 9), ("r2", 9), ("r2", 10), ("r2", 11)]


def test_a_failing_handler_is_counted_and_not_retried_forever():
    calls: list[int] = []

    def handler(progress: dict) -> None:
        calls.append(progress["batchId"])
        raise ValueError("metrics broke")

    poller = ProgressPoller(handler, interval=60)
    query = ScriptedQuery("r1")
    query.complete(0)
    poller.watch(query)
    poller._safe_step()
    poller._safe_step()
    assert calls == [0] and poller.errors == 1


def test_finish_never_raises_into_the_supervisor():
    def handler(progress: dict) -> None:
        raise ValueError("metrics broke")

    poller = ProgressPoller(handler, interval=60)
    query = ScriptedQuery("r1")
    query.complete(0)
    poller.watch(query)
    poller.finish(query)  # in the supervisor's finally: must not hide how the query ended
    assert poller.errors == 1
    poller.step()  # and it no longer watches that query
    assert poller.errors == 1


@pytest.mark.integration
def test_a_real_query_every_batch_handed_on(spark, tmp_path):
    out: list[dict] = []
    poller = ProgressPoller(out.append, interval=0.05)
    frame = spark.readStream.format("rate").option("rowsPerSecond", 50).load()
    query = (
        frame.writeStream.format("noop")
        .trigger(processingTime="100 milliseconds")
        .option("checkpointLocation", str(tmp_path / "cp"))
        .start()
    )
    try:
        with poller:
            poller.watch(query)
            deadline = time.monotonic() + 60
            while len(out) < 10 and time.monotonic() < deadline:
                time.sleep(0.1)
            query.stop()
            poller.finish(query)
    finally:
        if query.isActive:
            query.stop()
    ids = [p["batchId"] for p in out]
    assert len(ids) >= 10
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive: none skipped, none twice
    assert ids[-1] == query.lastProgress.batchId
    assert all(p["runId"] == str(query.runId) for p in out)
