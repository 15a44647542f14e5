"""The probe reads the job's own per-batch progress lines (logged at DEBUG by app/workers/progress.py)."""

import json
import logging

from app.workers.progress import ProgressPoller
from bench.probe import batch_durations


class _Progress:
    def __init__(self, progress: dict) -> None:
        self.json = json.dumps(progress)


class _Query:
    """The two properties of a StreamingQuery the poller reads, over the batches reported so far."""

    def __init__(self) -> None:
        self.reported: list[_Progress] = []

    @property
    def lastProgress(self) -> _Progress | None:  # noqa: N802
        return self.reported[-1] if self.reported else None

    @property
    def recentProgress(self) -> list[_Progress]:  # noqa: N802
        return self.reported


def test_batch_durations_parse_what_the_poller_logs(caplog):
    poller, query = ProgressPoller(lambda progress: None, interval=60), _Query()
    poller.watch(query)
    with caplog.at_level(logging.DEBUG, logger="app.workers.progress"):
        for batch, (rows, trigger) in enumerate([(5, 900), (20, 300), (30, 400), (0, 10), (25, 500)]):
            query.reported.append(_Progress({"runId": "r", "batchId": batch, "numInputRows": rows,
                                             "durationMs": {"triggerExecution": trigger, "addBatch": trigger - 50,
                                                            "queryPlanning": 30, "latestOffset": 5}}))
            poller.step()
    stats = batch_durations(caplog.text, first_batch=1)
    assert stats["batches"] == 3  # batch 0 (warm-up) and the empty batch are left out
    assert stats["rows"]["p50"] == 25
    assert stats["triggerExecution"]["p50"] == 400
    assert stats["addBatch"]["p50"] == 350
    assert batch_durations("no batches here") == {"batches": 0}
