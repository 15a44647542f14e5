"""`python -m bench.run`: every contender on the same corpus and broker, results as JSON (+ markdown and plots).

Order matters: the ceiling first (its best `nlp.pipe` batch size measured), then this service, whose drain rate
sets the fixed input rates (25, 50, 75, 80 and 90% of it) that the other contenders are held at for latency, so
every point of the latency curve compares the contenders at the same input rate; this service in exactly-once mode
comes next, at those rates too. Then the mixed-language corpus through the service, drained whole and per language.
"""

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import harness
from bench.contenders import ceiling, service
from bench.corpus import corpus_path, load_docs
from bench.harness import REPO, Spec, say
from bench.machine import describe
from bench.make_mixed import MIXED, sources, true_languages

CONTENDERS = (
    "ceiling",
    "service",
    "service-eos",
    "demo",
    "consumer",
    "confluent-consumer",
    "quix",
    "quix-eos",
    "mixed",
)
CURVE = "0.25,0.5,0.75,0.8,0.9"  # fractions of the service's drain rate; the targets sit at 50 and 80%
CURVED = ("service", "service-eos", "consumer", "confluent-consumer", "quix")  # the others: one phase, at --load
CEILING_BATCH_SIZES = "8,32,64,128,512"


def contender_args(module: str, workers: int, extra: tuple[str, ...] = ()):
    def command(bootstrap: str, t: harness.Topics) -> tuple[list[str], dict[str, str]]:
        return [
            *harness.contender_argv([sys.executable, "-m", f"bench.contenders.{module}"], bootstrap, t, workers),
            *extra,
            *(["--checkpoint", str(t.workdir / "checkpoint")] if module == "demo_job" else []),
        ], {}

    return command


def service_spec(
    name: str,
    label: str,
    master: str = "local[2]",
    partitions: int = 2,
    min_partitions: int = 0,
    overrides: Mapping[str, str | None] | None = None,
) -> Spec:
    return Spec(
        name,
        label,
        lambda b, t: service.command(b, t, master, min_partitions, overrides),
        partitions,
        {"master": master, "min_partitions": min_partitions or "cores", "overrides": overrides or {}},
        transactional=(overrides or {}).get("OUTPUT_GUARANTEE") == "exactly-once",
    )


def specs(workers: int) -> dict[str, Spec]:
    return {
        "service": service_spec("service", "this service (local[2], 2 partitions)"),
        "service-eos": service_spec(
            "service-eos",
            "this service, exactly-once (local[2], 2 partitions)",
            overrides={"OUTPUT_GUARANTEE": "exactly-once"},
        ),
        "demo": Spec(
            "demo",
            "original demo (row udf, full pipeline, foreachBatch)",
            contender_args("demo_job", workers, ("--master", f"local[{workers}]")),
        ),
        "consumer": Spec(
            "consumer", f"kafka-python consumer x{workers}", contender_args("consumer", workers), group_members=workers
        ),
        "confluent-consumer": Spec(
            "confluent-consumer",
            f"confluent-kafka consumer x{workers}",
            contender_args("confluent_consumer", workers),
            group_members=workers,
        ),
        "quix": Spec("quix", f"Quix Streams x{workers}", contender_args("quix_app", workers), group_members=workers),
        "quix-eos": Spec(
            "quix-eos",
            f"Quix Streams x{workers}, exactly-once",
            contender_args("quix_app", workers, ("--guarantee", "exactly-once")),
            group_members=workers,
            transactional=True,
        ),
    }


SCALING = (  # (name, label, master, partitions, min_partitions): drain only
    ("service-local1-2p", "service local[1], 2 partitions", "local[1]", 2, 1),
    ("service-local2-1p", "service local[2], 1 partition, minPartitions=2", "local[2]", 1, 2),
    ("service-local2-1p-nosplit", "service local[2], 1 partition, minPartitions=1", "local[2]", 1, 1),
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__)
    p.add_argument("--docs", type=int, default=None, help="first N docs of the corpus (default all)")
    p.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29792"),
        help="[env: KAFKA_BOOTSTRAP_SERVERS]",
    )
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="comma list of " + ",".join(CONTENDERS))
    p.add_argument("--latency-seconds", type=float, default=40.0, help="length of each fixed-rate phase")
    p.add_argument("--rate", type=float, default=0.0, help="fixed rate in docs/s (default: --load x service)")
    p.add_argument("--load", type=float, default=0.5, help="fixed rate as a fraction of the service's drain rate")
    p.add_argument("--curve", default=CURVE, help="loads of the latency curve ('' = only --load)")
    p.add_argument(
        "--ceiling-batch-sizes",
        default=CEILING_BATCH_SIZES,
        help="nlp.pipe batch sizes the ceiling tries; the fastest is the ceiling",
    )
    p.add_argument("--ceiling-sweep-docs", type=int, default=2000, help="docs per batch-size trial")
    p.add_argument("--mixed-repeat", type=int, default=3, help="times the mixed corpus is sent per drain")
    p.add_argument("--scaling", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes per contender (cores)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "raw" / "latest.json")
    p.add_argument("--report", type=Path, default=None, help="markdown file whose results section to rewrite")
    p.add_argument("--plot", type=Path, default=None, help="PNG plot")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    chosen = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(chosen) - set(CONTENDERS)
    if unknown:
        print(f"unknown contender(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    path = corpus_path()
    docs = load_docs(path, args.docs)
    command = "python -m bench.run " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    meta = {
        **describe(command),
        "corpus": path.name,
        "docs": len(docs),
        "workers": args.workers,
        "bootstrap": "local broker (deploy/local/kafka)",
        "load_fraction": args.load,
        "latency_seconds": args.latency_seconds,
        "service_settings": service.BEST,
    }
    out: dict[str, Any] = {"meta": meta, "contenders": [], "scaling": []}
    say(f"{len(docs)} docs from {path.name}, contenders {','.join(chosen)}, broker {args.bootstrap}")

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")

    texts = [d["text"] for d in docs]
    sizes = [int(x) for x in args.ceiling_batch_sizes.split(",") if x.strip()]
    sweep = {}
    if len(sizes) > 1:
        for size in sizes:
            trial = ceiling.run(texts[: args.ceiling_sweep_docs], args.workers, size)
            sweep[size] = round(min(len(texts), args.ceiling_sweep_docs) / trial["seconds"], 1)
            say(f"ceiling trial: nlp.pipe batch_size={size}: {sweep[size]} docs/s")
    best = max(sweep, key=lambda k: sweep[k]) if sweep else sizes[0]
    out["meta"]["ceiling_batch_sizes"] = {
        "docs": min(len(texts), args.ceiling_sweep_docs),
        "docs_per_s": sweep,
        "best": best,
    }
    say(
        f"ceiling: nlp.pipe(batch_size={best}) in one process per core (tokens and reference entities come "
        "from this run)"
    )
    ceil = ceiling.run(texts, args.workers, best)
    tokens, expected = sum(ceil["tokens"]), ceil["entities"]
    out["meta"]["tokens"] = tokens
    ceiling_rate = len(docs) / ceil["seconds"]
    if "ceiling" in chosen:
        out["contenders"].append(
            {
                "name": "ceiling",
                "label": f"ceiling: nlp.pipe x{args.workers}, batch {best}, no Kafka",
                "docs": len(docs),
                "drain_seconds": round(ceil["seconds"], 2),
                "docs_per_s": round(ceiling_rate, 1),
                "peak_rss": ceil["peak_rss"],
                "cpu_s_per_1k_docs": round(ceil["cpu_seconds"] / len(docs) * 1000, 1),
                "entities_differ": 0,
                "load_before": list(os.getloadavg()),
            }
        )
    say(f"ceiling: {ceiling_rate:.1f} docs/s ({tokens / ceil['seconds']:.0f} tokens/s)")
    save()

    rate = args.rate or None
    curve = tuple(float(x) for x in args.curve.split(",") if x.strip())
    drain_rate = None
    table = specs(args.workers)
    for name in [c for c in CONTENDERS if c in chosen and c in table]:
        spec = table[name]
        shape = curve if name in CURVED else ()
        try:
            if name == "service":
                result = harness.measure(
                    spec,
                    docs,
                    args.bootstrap,
                    rate=None,
                    latency_seconds=args.latency_seconds,
                    expected=expected,
                    rate_from_drain=args.load,
                    curve=shape,
                )
                rate = result.get("latency_ms", {}).get("rate_docs_per_s")
                drain_rate = result["docs_per_s"]
            else:
                result = harness.measure(
                    spec,
                    docs,
                    args.bootstrap,
                    rate=rate or args.load * ceiling_rate,
                    latency_seconds=args.latency_seconds,
                    expected=expected,
                    curve=shape,
                    curve_base=drain_rate or ceiling_rate,
                )
        except Exception as exc:  # noqa: BLE001 - one failed contender is reported, the others still run
            say(f"{spec.label}: FAILED: {exc}")
            result = {"name": name, "label": spec.label, "error": str(exc)[-2000:]}
        out["contenders"].append(result)
        save()
    if "mixed" in chosen:
        try:
            out["languages"] = mixed(args.bootstrap, args.mixed_repeat)
        except Exception as exc:  # noqa: BLE001
            say(f"mixed corpus: FAILED: {exc}")
            out["languages"] = {"error": str(exc)[-2000:]}
        save()
    if args.scaling and "service" in chosen:
        for name, label, master, partitions, min_partitions in SCALING:
            spec = service_spec(name, label, master, partitions, min_partitions)
            try:
                out["scaling"].append(harness.measure(spec, docs, args.bootstrap, rate=None, latency_seconds=0))
            except Exception as exc:  # noqa: BLE001
                say(f"{label}: FAILED: {exc}")
                out["scaling"].append({"name": name, "label": label, "error": str(exc)[-2000:]})
            save()
    for entry in out["contenders"] + out["scaling"]:
        if "docs_per_s" in entry:
            entry["tokens_per_s"] = round(tokens / entry["drain_seconds"])
            entry["ratio_to_ceiling"] = round(entry["docs_per_s"] / ceiling_rate, 3)
    out["meta"]["uptime_after"] = os.popen("uptime").read().strip()
    out["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    save()
    say(f"results in {args.out}")
    from bench import report

    print(report.table(out))
    if args.report:
        report.update_markdown(args.report, out)
    if args.plot:
        report.plot(out, args.plot)
    failed = [e for e in out["contenders"] + out["scaling"] + [out.get("languages", {})] if "error" in e]
    return 0 if not failed else 1


def mixed(bootstrap: str, repeat: int) -> dict:
    """The service on bench/data/mixed.jsonl (English and French, a third `auto`, a few without `lang`): the
    whole corpus, then its English and its French documents alone, each drained in the same process, so the
    CPU per document of each language is measured on that language only."""
    docs = load_docs(MIXED)
    truth = true_languages(*sources())
    spec = service_spec("service-mixed", "this service, mixed corpus")
    parts = {"mixed": docs, **{lang: [d for d in docs if truth[d["uuid"]] == lang] for lang in ("en", "fr")}}
    out: dict = {"corpus": MIXED.name, "repeat": repeat, "label": spec.label, "drains": {}}
    with harness.Run(spec, bootstrap) as run:
        run.warm([d for part in ("en", "fr") for d in parts[part][:8]])
        for part, chunk in parts.items():
            result = run.drain(chunk * repeat, tag=f"m{part}-")
            out["drains"][part] = {
                "distinct_docs": len(chunk),
                "chars_per_doc": round(sum(len(d["text"]) for d in chunk) / len(chunk)),
                **result,
            }
        out.update(run.summary())
    return out


if __name__ == "__main__":
    sys.exit(main())
