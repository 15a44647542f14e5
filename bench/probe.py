"""`python -m bench.probe`: this service at one fixed rate, with where each micro-batch's time goes.

Runs the service (best settings, plus any `--set NAME=VALUE` app settings) on fresh topics, warms it up, writes
`--rate` docs/s for `--seconds`, and reports the latency percentiles next to the query's own per-batch durations
(rows, triggerExecution, addBatch, queryPlanning, latestOffset: the progress events the job logs at DEBUG) and,
from Spark's event log, each batch's stage: the driver's time between two stages and how unevenly its tasks
finished. It is how the latency findings in docs/benchmarks.md were measured, one setting at a time.
"""

import argparse
import ast
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.contenders import service
from bench.corpus import corpus_path, load_docs
from bench.harness import Run, Spec, say

BATCH_LINE = re.compile(r"batch (\d+): (\d+) rows, durations ms (\{.*\})")
# getBatch, setOffsetRange, getEndOffset and commitBatch are 0-1 ms for this query: left out.
DURATIONS = ("triggerExecution", "addBatch", "queryPlanning", "latestOffset", "walCommit", "commitOffsets")


def batch_durations(log_text: str, first_batch: int = 0) -> dict:
    """Median and p95 per duration (ms) and rows per batch, over the batches from `first_batch` on."""
    batches = []
    for match in BATCH_LINE.finditer(log_text):
        if int(match.group(1)) >= first_batch and int(match.group(2)) > 0:
            batches.append({"rows": int(match.group(2)), **ast.literal_eval(match.group(3))})
    if not batches:
        return {"batches": 0}
    out: dict = {"batches": len(batches)}
    for key in ("rows", *DURATIONS):
        values = np.asarray([b.get(key, 0) for b in batches], dtype=float)
        out[key] = {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95)}
    return out


def stage_timeline(events: list[dict], first_stage: int = 0) -> dict:
    """From Spark's event log: the driver's gap between one stage's end and the next one's submission, each stage's
    length, and its tasks' spread (the first task to finish idles its core until the last one does), in ms."""
    stages: dict[int, dict] = {}
    for e in events:
        if e.get("Event") == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            stages.setdefault(info["Stage ID"], {}).update(start=info["Submission Time"], end=info["Completion Time"])
        elif e.get("Event") == "SparkListenerTaskEnd":
            task = e["Task Info"]
            stages.setdefault(e["Stage ID"], {}).setdefault("tasks", []).append(task["Finish Time"])
    ordered = [stages[k] for k in sorted(stages) if k >= first_stage and "start" in stages[k]]
    if len(ordered) < 2:
        return {"stages": len(ordered)}
    gaps = [b["start"] - a["end"] for a, b in zip(ordered, ordered[1:], strict=False)]
    lengths = [s["end"] - s["start"] for s in ordered]
    spreads = [max(s["tasks"]) - min(s["tasks"]) for s in ordered if len(s.get("tasks", [])) > 1]

    def pct(values: list[int]) -> dict:
        return {f"p{q}": round(float(np.percentile(values, q)), 1) for q in (50, 95)} if values else {}

    return {"stages": len(ordered), "gap": pct(gaps), "stage": pct(lengths), "task_spread": pct(spreads)}


def read_event_log(directory: Path) -> list[dict]:
    """Every event of the (uncompressed) event logs under `directory`; the log is still being written, so a last
    line cut short is left out."""
    events = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.probe", description=__doc__)
    p.add_argument("--rate", type=float, required=True, help="docs/s")
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="an app setting (repeatable)")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29792"))
    p.add_argument("--out", type=Path, default=None, help="append the result as one JSON line")
    args = p.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    docs = load_docs(corpus_path())
    events = Path(tempfile.mkdtemp(prefix="probe-events-"))
    submit = (
        f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={events.as_uri()} "
        "--conf spark.eventLog.compress=false pyspark-shell"
    )
    env = {**overrides, "LOG_LEVEL": "DEBUG", "PYSPARK_SUBMIT_ARGS": submit}
    spec = Spec("probe", "probe", lambda b, t: service.command(b, t, overrides=env))
    try:
        with Run(spec, args.bootstrap) as run:
            try:
                run.warm(docs)
            except RuntimeError as exc:
                say(f"probe: {exc}")
                return 1
            warm_batches = len(BATCH_LINE.findall(run.topics.log.read_text(errors="replace")))
            warm_stages = stage_timeline(read_event_log(events))["stages"]
            say(f"probe: settings {overrides or 'the defaults'}")
            result = {
                "rate_docs_per_s": args.rate,
                "seconds": args.seconds,
                "settings": overrides,
                "latency_ms": run.paced(docs, args.rate, args.seconds, tag="p"),
                "per_batch_ms": batch_durations(run.topics.log.read_text(errors="replace"), warm_batches + 1),
                "stages_ms": stage_timeline(read_event_log(events), warm_stages),
                "load_1m": round(os.getloadavg()[0], 2),
            }
    finally:
        shutil.rmtree(events, ignore_errors=True)
    say(f"probe: {json.dumps(result)}")
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
