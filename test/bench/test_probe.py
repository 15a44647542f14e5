"""The probe reads the job's own per-batch progress lines (logged at DEBUG by app/workers/progress.py)."""

import json
import logging

from app.workers.progress import ProgressPoller
from bench.probe import batch_durations, read_event_log, stage_timeline


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
            query.reported.append(
                _Progress(
                    {
                        "runId": "r",
                        "batchId": batch,
                        "numInputRows": rows,
                        "durationMs": {
                            "triggerExecution": trigger,
                            "addBatch": trigger - 50,
                            "queryPlanning": 30,
                            "latestOffset": 5,
                        },
                    }
                )
            )
            poller.step()
    stats = batch_durations(caplog.text, first_batch=1)
    assert stats["batches"] == 3  # batch 0 (warm-up) and the empty batch are left out
    assert stats["rows"]["p50"] == 25
    assert stats["triggerExecution"]["p50"] == 400
    assert stats["addBatch"]["p50"] == 350
    assert batch_durations("no batches here") == {"batches": 0}


def _stage(stage: int, start: int, end: int, finishes: list[int]) -> list[dict]:
    tasks = [{"Event": "SparkListenerTaskEnd", "Stage ID": stage, "Task Info": {"Finish Time": f}} for f in finishes]
    done = {
        "Event": "SparkListenerStageCompleted",
        "Stage Info": {"Stage ID": stage, "Submission Time": start, "Completion Time": end},
    }
    return [*tasks, done]


def test_stage_timeline_reads_gaps_lengths_and_task_spread_from_the_event_log():
    events = [
        {"Event": "SparkListenerApplicationStart"},
        *_stage(0, 0, 5000, [5000]),  # the warm-up's stage
        *_stage(1, 5100, 6100, [5900, 6100]),
        *_stage(2, 6250, 7050, [7050, 6650]),
        *_stage(3, 7200, 8200, [8200, 8100]),
    ]
    timeline = stage_timeline(events, first_stage=1)
    assert timeline["stages"] == 3
    assert timeline["gap"]["p50"] == 150.0  # 6100 -> 6250 and 7050 -> 7200
    assert timeline["stage"]["p50"] == 1000.0  # 1000, 800, 1000
    assert timeline["task_spread"]["p50"] == 200.0  # 200, 400, 100
    assert stage_timeline(events[:3], first_stage=1) == {"stages": 0}


def test_the_event_log_is_read_up_to_a_line_cut_short(tmp_path):
    log = tmp_path / "eventlog_v2_local-1" / "events_1_local-1"
    log.parent.mkdir()
    log.write_text("\n".join(json.dumps(e) for e in _stage(0, 0, 10, [10])) + '\n{"Event": "SparkListenerTa')
    assert [e["Event"] for e in read_event_log(tmp_path)] == ["SparkListenerTaskEnd", "SparkListenerStageCompleted"]
