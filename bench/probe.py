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
from bench.harness import _stop, fresh_topics, launch, percentiles, say
from bench.kafka_io import Collector, Sender, encode
from deploy.local.stack.clients import delete_topics

BATCH_LINE = re.compile(r"batch (\d+): (\d+) rows, durations ms (\{.*\})")
DURATIONS = ("triggerExecution", "addBatch", "queryPlanning", "latestOffset")


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
    topics = fresh_topics(args.bootstrap, "probe", 2)
    command, env = service.command(args.bootstrap, topics, overrides={**overrides, "LOG_LEVEL": "DEBUG"})
    log_path = topics.log
    proc = launch(command, env, log_path)
    collector, sender = Collector(args.bootstrap, topics.output), Sender(args.bootstrap, topics.input)
    collector.start()
    try:
        warm = [(f"w{i}", encode(f"w{i}", docs[i])) for i in range(16)]
        sender.burst(warm)
        if not collector.wait_for({k for k, _ in warm}, 600, alive=lambda: proc.poll() is None):
            say(f"probe: no warm-up results; see {log_path}")
            return 1
        warm_batches = len(BATCH_LINE.findall(log_path.read_text(errors="replace")))
        n = max(1, int(args.rate * args.seconds))
        paced = [(f"p{i}", encode(f"p{i}", docs[i % len(docs)])) for i in range(n)]
        say(f"probe: {n} docs at {args.rate} docs/s, settings {overrides or 'best'}")
        sent = sender.paced(paced, args.rate)
        collector.wait_for(set(sent), 600, alive=lambda: proc.poll() is None)
        got = collector.results(sent)
        result = {"rate_docs_per_s": args.rate, "seconds": args.seconds, "settings": overrides,
                  "latency_ms": {**percentiles([got[k][0] - sent[k] for k in sent if k in got]),
                                 "missing": len(sent) - len(got)},
                  "per_batch_ms": batch_durations(log_path.read_text(errors="replace"), warm_batches + 1),
                  "load_1m": round(os.getloadavg()[0], 2)}
    finally:
        sender.close()
        _stop(proc)
        collector.stop()
        delete_topics(args.bootstrap, [topics.input, topics.output, topics.dead])
    say(f"probe: {json.dumps(result)}")
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
