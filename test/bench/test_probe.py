"""The probe reads the job's own per-batch progress lines (logged at DEBUG by app/shutdown.py)."""

import json
import logging

from app.workers.progress import ProgressListener
from bench.probe import batch_durations


class _Event:
    def __init__(self, progress: dict) -> None:
        self.progress = type("P", (), {"json": json.dumps(progress)})()


def test_batch_durations_parse_what_the_listener_logs(caplog):
    listener = ProgressListener("q", lambda progress: None)
    with caplog.at_level(logging.DEBUG, logger="app.workers.progress"):
        for batch, (rows, trigger) in enumerate([(5, 900), (20, 300), (30, 400), (0, 10), (25, 500)]):
            listener.onQueryProgress(_Event({"name": "q", "batchId": batch, "numInputRows": rows,
                                             "durationMs": {"triggerExecution": trigger, "addBatch": trigger - 50,
                                                            "queryPlanning": 30, "latestOffset": 5}}))
    stats = batch_durations(caplog.text, first_batch=1)
    assert stats["batches"] == 3  # batch 0 (warm-up) and the empty batch are left out
    assert stats["rows"]["p50"] == 25
    assert stats["triggerExecution"]["p50"] == 400
    assert stats["addBatch"]["p50"] == 350
    assert batch_durations("no batches here") == {"batches": 0}
