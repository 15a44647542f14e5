"""`python -m bench.soak`: this service at a fixed rate for a long time; does any process's RSS keep growing?

Every message carries words never seen before (`high_cardinality`), as a real feed's names and ids do.

Growth compares the mean RSS of the last tenth of the run with the mean just after warm-up (the first tenth
is skipped: model loads, JIT and Arrow buffers settle there). Target: under 5% per process kind. A second figure
compares the last tenth with the tenth at the middle of the run: a process whose memory has levelled off (a JVM
heap that has reached its working size) shows ~0 there even if it grew early on; a leak keeps growing.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from bench.contenders import service
from bench.corpus import corpus_path, load_docs
from bench.harness import RAW, REPO, Run, Spec, say
from bench.kafka_io import encode
from bench.machine import describe


def default_rate() -> float:
    full = REPO / "bench" / "results" / "full.json"
    if full.exists():
        for entry in json.loads(full.read_text())["contenders"]:
            if entry.get("name") == "service" and entry.get("latency_ms"):
                return float(entry["latency_ms"]["rate_docs_per_s"])
    return 10.0


def high_cardinality(doc: dict, i: int) -> dict:
    """The corpus document plus words no message has used before (a made-up name and a code per message).

    The corpus repeats every ~6,000 messages; a real feed keeps bringing new names and identifiers, so a worker
    whose spaCy vocabulary or string store grew with every new string would show it here and not on the corpus.
    """
    h = hashlib.blake2b(str(i).encode(), digest_size=9).hexdigest()
    suffix = f" Reported by {h[:6].capitalize()} {h[6:12].capitalize()} of {h[12:].upper()}-{i} Labs."
    return {**doc, "text": doc["text"] + suffix}


def growth(samples: list[dict], kind: str, since: float = 0.1) -> float | None:
    """% change of the mean RSS from the tenth of the run that starts at `since` (a fraction) to the last tenth."""
    values = [s["rss_mb"].get(kind) for s in samples if s["rss_mb"].get(kind)]
    if len(values) < 10:
        return None
    tenth = max(1, len(values) // 10)
    first = int(len(values) * since)
    start = sum(values[first : first + tenth]) / tenth
    end = sum(values[-tenth:]) / tenth
    return round((end - start) / start * 100, 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.soak", description=__doc__)
    p.add_argument("--minutes", type=float, default=120.0)
    p.add_argument("--rate", type=float, default=0.0, help="docs/s (default: the full run's 50%% rate)")
    p.add_argument("--interval", type=float, default=15.0, help="seconds between RSS samples")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29792"))
    p.add_argument("--out", type=Path, default=RAW / "soak.json")
    args = p.parse_args(argv)
    rate = args.rate or default_rate()
    docs = load_docs(corpus_path())
    samples: list[dict] = []
    sent = 0
    with Run(Spec("soak", "soak", service.command), args.bootstrap) as run:
        say(f"soak: {args.minutes} min at {rate:.1f} docs/s")
        ends = time.monotonic() + args.minutes * 60
        while time.monotonic() < ends and run.alive():
            n = int(rate * args.interval)
            batch = [
                (f"s{j}", encode(f"s{j}", high_cardinality(docs[j % len(docs)], j))) for j in range(sent, sent + n)
            ]
            run.sender.paced(batch, rate)
            sent += n
            run.sampler.sample()
            samples.append(
                {
                    "t": round(time.monotonic() - ends + args.minutes * 60),
                    "sent": sent,
                    "results": len(run.collector.seen),
                    "rss_mb": run.sampler.rss_by_kind_now(),
                }
            )
            say(f"soak: {samples[-1]}")
    kinds = sorted({k for s in samples for k in s["rss_mb"]})
    out = {
        "meta": describe("python -m bench.soak " + " ".join(argv if argv is not None else sys.argv[1:])),
        "rate_docs_per_s": rate,
        "minutes": args.minutes,
        "sent": sent,
        "results": len(run.collector.seen),
        "growth_percent": {k: growth(samples, k) for k in kinds},
        "growth_second_half_percent": {k: growth(samples, k, since=0.5) for k in kinds},
        "peak_rss": run.sampler.peak_by_kind(),
        "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    say(
        f"soak: RSS growth % by process kind {out['growth_percent']} (target < 5%), over the second half "
        f"{out['growth_second_half_percent']}"
    )
    return 0 if run.proc.returncode in (0, None, -15) else 1


if __name__ == "__main__":
    sys.exit(main())
