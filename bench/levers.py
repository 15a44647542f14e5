"""`python -m bench.levers`: this service under one changed setting at a time, drain rate and latency for each.

Every variant is the best settings (bench/contenders/service.py BEST) with one change, so each row reads as
"what this lever is worth"; the baseline runs first and last to show the drift of a shared machine.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import harness
from bench.corpus import corpus_path, load_docs
from bench.harness import REPO, say
from bench.machine import describe
from bench.run import service_spec

# (name, what changes): env overrides for the service process. None removes a variable.
VARIANTS: tuple[tuple[str, dict[str, str | None]], ...] = (
    ("baseline", {}),
    # The per-message budget's cost: inference in the worker itself, no killable process (not safe in production).
    ("inference-inline", {"INFERENCE_ISOLATION": "inline"}),
    ("inference-process", {"INFERENCE_ISOLATION": "process"}),  # the default again, after inline: order effects
    ("blas-threads-default", {"OMP_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": None}),
    ("nlp-batch-16", {"NLP_BATCH_SIZE": "16"}),
    ("nlp-batch-256", {"NLP_BATCH_SIZE": "256"}),
    ("nlp-chars-30000", {"NLP_BATCH_MAX_CHARS": "30000"}),
    ("nlp-chars-120000", {"NLP_BATCH_MAX_CHARS": "120000"}),
    ("results-lz4", {"KAFKA_EXTRA_OPTIONS": "producer.compression.type=lz4"}),
    ("results-zstd-linger-5", {"KAFKA_EXTRA_OPTIONS": "producer.compression.type=zstd,producer.linger.ms=5"}),
    ("arrow-batch-100", {"ARROW_MAX_RECORDS_PER_BATCH": "100"}),
    ("arrow-batch-200", {"ARROW_MAX_RECORDS_PER_BATCH": "200"}),
    ("arrow-batch-500", {"ARROW_MAX_RECORDS_PER_BATCH": "500"}),
    ("min-partitions-4", {"MIN_PARTITIONS": "4"}),
    ("local-3", {"SPARK_MASTER": "local[3]"}),
    ("fetch-wait-500", {"KAFKA_FETCH_MAX_WAIT_MS": "500"}),
    ("max-offsets-200", {"MAX_OFFSETS_PER_TRIGGER": "200"}),
    ("max-offsets-unlimited", {"MAX_OFFSETS_PER_TRIGGER": "0"}),
    ("trigger-1s", {"TRIGGER_INTERVAL": "1 second"}),
    # Only without the quarantine (the settings refuse the pair): what latency it would buy, at that price.
    ("async-progress-tracking", {"ASYNC_PROGRESS_TRACKING": "true", "QUARANTINE": "false"}),
    # Every call in a memory zone (no vocab kept), and a warm-up that ends early in the drain (steady state sooner).
    ("vocab-warmup-0", {"VOCAB_WARMUP_CHARS": "0"}),
    ("vocab-warmup-200k", {"VOCAB_WARMUP_CHARS": "200000"}),
    # The driver JVM with the JVM's default JIT (C1 and C2) instead of the shipped C1-only DRIVER_JAVA_OPTIONS.
    ("jvm-default-jit", {"DRIVER_JAVA_OPTIONS": ""}),
    # Spark's default (FileContext) checkpoint manager instead of the FileSystem one: ten forks per log entry.
    ("checkpoint-manager-spark", {"CHECKPOINT_FILE_MANAGER": "spark"}),
    ("driver-memory-2g", {"PYSPARK_SUBMIT_ARGS": "--driver-memory 2g pyspark-shell"}),
    ("baseline-again", {}),
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.levers", description=__doc__)
    p.add_argument("--docs", type=int, default=800)
    p.add_argument("--rate", type=float, default=0.0, help="fixed rate for latency (default: 50%% of baseline)")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--only", default="", help="comma list of variant names")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29792"))
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "raw" / "levers.json")
    args = p.parse_args(argv)
    docs = load_docs(corpus_path(), args.docs)
    chosen = [v for v in VARIANTS if not args.only or v[0] in args.only.split(",")]
    command = "python -m bench.levers " + " ".join(argv if argv is not None else sys.argv[1:])
    out: dict[str, Any] = {"meta": describe(command), "docs": len(docs), "variants": []}
    rate = args.rate
    for name, overrides in chosen:
        spec = service_spec(f"lever-{name}", f"lever {name}", overrides=overrides)
        try:
            result = harness.measure(
                spec,
                docs,
                args.bootstrap,
                rate=rate or None,
                latency_seconds=args.latency_seconds,
                rate_from_drain=0.0 if rate else 0.5,
            )
            rate = rate or result.get("latency_ms", {}).get("rate_docs_per_s", 0.0)
        except Exception as exc:  # noqa: BLE001 - report and go on
            result = {"name": name, "error": str(exc)[-1500:]}
        out["variants"].append({"variant": name, "overrides": overrides, **result})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    say("variant                    docs/s   cpu s/1k   p50 / p99 ms")
    for v in out["variants"]:
        lat = v.get("latency_ms", {})
        say(
            f"{v['variant']:<26} {v.get('docs_per_s', 'failed'):>7} {v.get('cpu_s_per_1k_docs', '-'):>9}   "
            f"{lat.get('p50', '-')} / {lat.get('p99', '-')}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
