"""`python -m bench.probe`: this service at one fixed rate, with where each micro-batch's time goes.

Runs the service (best settings, plus any `--set NAME=VALUE` app settings) on fresh topics, warms it up, writes
`--rate` docs/s for `--seconds`, and reports the latency percentiles next to the query's own per-batch durations
(rows, triggerExecution, addBatch, queryPlanning, latestOffset: the progress events the job logs at DEBUG).
It is how the latency findings in docs/benchmarks.md were measured, one setting at a time.
"""

import argparse
import ast
import json
import os
import re
import sys
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.probe", description=__doc__)
    p.add_argument("--rate", type=float, required=True, help="docs/s")
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="an app setting (repeatable)")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:49192"))
    p.add_argument("--out", type=Path, default=None, help="append the result as one JSON line")
    args = p.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    docs = load_docs(corpus_path())
    spec = Spec("probe", "probe", lambda b, t: service.command(b, t, overrides={**overrides, "LOG_LEVEL": "DEBUG"}))
    with Run(spec, args.bootstrap) as run:
        try:
            run.warm(docs)
        except RuntimeError as exc:
            say(f"probe: {exc}")
            return 1
        warm_batches = len(BATCH_LINE.findall(run.topics.log.read_text(errors="replace")))
        say(f"probe: settings {overrides or 'the defaults'}")
        result = {"rate_docs_per_s": args.rate, "seconds": args.seconds, "settings": overrides,
                  "latency_ms": run.paced(docs, args.rate, args.seconds, tag="p"),
                  "per_batch_ms": batch_durations(run.topics.log.read_text(errors="replace"), warm_batches + 1),
                  "load_1m": round(os.getloadavg()[0], 2)}
    say(f"probe: {json.dumps(result)}")
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
