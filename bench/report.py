"""Results JSON -> the markdown tables in docs/benchmarks.md and a PNG plot. `python -m bench.report RESULTS.json`."""

import argparse
import json
from pathlib import Path

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
# The plain peers (bench/run.py's contender names): the service's targets are judged against the best of them.
PLAIN_PEERS = ("consumer", "confluent-consumer", "quix")
EXACTLY_ONCE = (("service", "service-eos"), ("quix", "quix-eos"))  # (at-least-once row, its exactly-once row)
PEER_TARGET, CEILING_TARGET, EOS_TARGET = 1.10, 0.90, 0.95
P99_TARGETS = ((0.5, 1000.0), (0.8, 2000.0))  # (load, p99 ms)


def measured(out: dict) -> dict[str, dict]:
    """The contenders that drained, by name."""
    return {e["name"]: e for e in out["contenders"] if "docs_per_s" in e}


def best_peer(out: dict) -> dict | None:
    """The plain peer that drained fastest in this run (None when none did)."""
    peers = [e for name, e in measured(out).items() if name in PLAIN_PEERS]
    return max(peers, key=lambda e: e["docs_per_s"], default=None)


def cheapest_peer(out: dict) -> dict | None:
    """The plain peer with the least CPU per document in this run."""
    peers = [e for name, e in measured(out).items() if name in PLAIN_PEERS and e.get("cpu_s_per_1k_docs")]
    return min(peers, key=lambda e: e["cpu_s_per_1k_docs"], default=None)


def latency_at(entry: dict, load: float, meta: dict) -> dict | None:
    """The contender's latency phase at `load` x the service's drain rate: its curve's point, or its one phase
    when that ran at `load` (--load)."""
    for point in entry.get("curve", {}).get("points", []):
        if abs(point["load"] - load) < 1e-9 and "p99" in point:
            return point
    lat = entry.get("latency_ms")
    if lat and "p99" in lat and abs(lat.get("load", meta.get("load_fraction", 0)) - load) < 1e-9:
        return lat
    return None


def ratio(a: dict | None, b: dict | None, key: str = "docs_per_s") -> float | None:
    return round(a[key] / b[key], 3) if a and b and a.get(key) and b.get(key) else None


def _verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def targets(out: dict) -> list[tuple[str, str, str]]:
    """(target, this run, verdict) for each target of the issues, judged in this run; "-" when a row is missing."""
    rows = measured(out)
    svc, eos, ceiling = rows.get("service"), rows.get("service-eos"), rows.get("ceiling")
    peer, cheap = best_peer(out), cheapest_peer(out)
    lines: list[tuple[str, str, str]] = []

    def drain(target: str, a: dict | None, b: dict | None, goal: float) -> None:
        r = ratio(a, b)
        if a and b and r is not None:
            lines.append(
                (target, f"{a['docs_per_s']:.1f} vs {b['docs_per_s']:.1f} docs/s = {r:.2f}x", _verdict(r >= goal))
            )
        else:
            lines.append((target, "-", "not measured"))

    peer_name = f" ({peer['label']})" if peer else ""
    drain(f"drain >= {PEER_TARGET:.2f}x the best plain peer{peer_name}", svc, peer, PEER_TARGET)
    drain(f"drain >= {CEILING_TARGET:.2f}x the ceiling", svc, ceiling, CEILING_TARGET)
    cheap_name = f" ({cheap['label']})" if cheap else ""
    target = f"CPU per 1k documents below the cheapest plain peer's{cheap_name}"
    if svc and cheap:
        a, b = svc["cpu_s_per_1k_docs"], cheap["cpu_s_per_1k_docs"]
        lines.append((target, f"{a:.1f} vs {b:.1f} s", _verdict(a < b) + (" (equal)" if a == b else "")))
    else:
        lines.append((target, "-", "not measured"))
    for load, goal in P99_TARGETS:
        target = f"p99 <= {goal / 1000:.1f} s at {load:.0%} load"
        lat = latency_at(svc, load, out["meta"]) if svc else None
        if lat:
            seen = f"{lat['p99'] / 1000:.2f} s at {lat['rate_docs_per_s']} docs/s"
            lines.append((target, seen, _verdict(lat["p99"] <= goal)))
        else:
            lines.append((target, "-", "not measured"))
    drain(f"exactly-once drain >= {EOS_TARGET:.2f}x at-least-once (this service)", eos, svc, EOS_TARGET)
    return lines


def _targets(out: dict) -> list[str]:
    peers = ", ".join(e["label"] for name, e in measured(out).items() if name in PLAIN_PEERS) or "none measured"
    lines = [f"Against the targets (plain peers: {peers}):", "", "| target | this run | verdict |", "|---|---|---|"]
    return lines + [f"| {t} | {run} | {verdict} |" for t, run, verdict in targets(out)] + [""]


def exactly_once(out: dict) -> list[str]:
    """Each contender with an exactly-once row beside its at-least-once row: drain, CPU, p99 at 50%, duplicates."""
    rows, meta = measured(out), out["meta"]
    pairs = [(rows[a], rows[b]) for a, b in EXACTLY_ONCE if a in rows and b in rows]
    if not pairs:
        return []

    def p99(e: dict) -> str:
        lat = latency_at(e, 0.5, meta)
        return f"{lat['p99']:.0f}" if lat else "-"

    lines = [
        "",
        "Exactly-once against at-least-once, same input rates (an exactly-once result counts once its transaction "
        "commits):",
        "",
        "| contender | docs/s at-least-once / exactly-once | exactly-once / at-least-once "
        "| CPU s / 1k docs | p99 ms at 50% load | duplicates |",
        "|---|---|---:|---|---|---|",
    ]
    for alo, eos in pairs:
        lines.append(
            f"| {alo['label']} | {alo['docs_per_s']:.1f} / {eos['docs_per_s']:.1f} | {ratio(eos, alo):.2f} "
            f"| {alo.get('cpu_s_per_1k_docs', 0):.1f} / {eos.get('cpu_s_per_1k_docs', 0):.1f} "
            f"| {p99(alo)} / {p99(eos)} | {alo.get('duplicates', '-')} / {eos.get('duplicates', '-')} |"
        )
    svc_eos, quix_eos = rows.get("service-eos"), rows.get("quix-eos")
    if svc_eos and quix_eos:
        lines += [
            "",
            f"This service exactly-once / Quix Streams exactly-once: {ratio(svc_eos, quix_eos):.2f}x the drain rate, "
            f"{ratio(svc_eos, quix_eos, 'cpu_s_per_1k_docs') or 0:.2f}x the CPU per document.",
        ]
    return lines


def _rss(entry: dict) -> str:
    return ", ".join(
        f"{k} {v['peak_rss_mb']:.0f}" + (f" (x{v['processes']})" if v["processes"] > 1 else "")
        for k, v in sorted(entry.get("peak_rss", {}).items())
    )


def _latency(entry: dict) -> str:
    lat = entry.get("latency_ms")
    if not lat or "p50" not in lat:
        return "-"
    missing = f", {lat['missing']} missing" if lat.get("missing") else ""
    return f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}{missing}"


def _row(e: dict) -> str:
    if "error" in e:
        return f"| {e['label']} | failed: {e['error'].splitlines()[0][:80]} | | | | | | | |"
    differ = e.get("entities_differ")
    identical = "-" if differ is None else ("yes" if differ == 0 else f"{differ} docs differ")
    load = e.get("load_before", [0])[0]
    return (
        f"| {e['label']} | {e['docs_per_s']:.1f} | {e.get('tokens_per_s', 0):,} "
        f"| {e.get('ratio_to_ceiling', 0):.2f} "
        f"| {e['drain_seconds']:.1f} | {_latency(e)} | {_rss(e)} | {e.get('cpu_s_per_1k_docs', 0):.0f} "
        f"| {identical} | {load:.1f} |"
    )


HEADER = (
    "| contender | docs/s | tokens/s | x ceiling | drain s | latency p50 / p95 / p99 ms "
    "| peak RSS MB per process | CPU s / 1k docs | entities = spaCy | load 1m |\n"
    "|---|---:|---:|---:|---:|---|---|---:|---|---:|"
)


def table(out: dict) -> str:
    meta = out["meta"]
    rate = next((e["latency_ms"]["rate_docs_per_s"] for e in out["contenders"] if e.get("latency_ms")), None)
    lines = [
        f"Run: `{meta['command']}` on {meta['date']}, commit {meta['git_commit']}.",
        f"Machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory_gib']} GiB, {meta['os']}; "
        f"Python {meta['python']}, {meta['java']}, Kafka {meta['kafka_broker']}; "
        + ", ".join(f"{k} {v}" for k, v in meta["packages"].items())
        + ".",
        f"Load: `{meta['uptime']}` before, `{meta.get('uptime_after', '?')}` after.",
        f"Corpus: {meta['docs']} docs, {meta.get('tokens', 0):,} tokens ({meta['corpus']}); "
        f"fixed rate for latency: {rate} docs/s for {meta['latency_seconds']:.0f} s "
        f"({meta['load_fraction']:.0%} of this service's drain rate).",
        "",
        *_targets(out),
        HEADER,
    ]
    lines += [_row(e) for e in out["contenders"]]
    lines += exactly_once(out)
    lines += _curve(out)
    lines += _languages(out)
    if out.get("scaling"):
        lines += ["", "Scaling of this service (drain only, same corpus):", "", HEADER]
        lines += [_row(e) for e in out["contenders"] if e.get("name") == "service"]
        lines += [_row(e) for e in out["scaling"]]
    return "\n".join(lines) + "\n"


def _curve(out: dict) -> list[str]:
    """Latency against load: one row per contender, p50 / p99 ms at each input rate."""
    curved = [e for e in out["contenders"] if e.get("curve")]
    if not curved:
        return []
    points = curved[0]["curve"]["points"]
    base = curved[0]["curve"]["base_docs_per_s"]
    head = " | ".join(f"{p['load']:.0%} ({p['rate_docs_per_s']:.0f}/s)" for p in points)
    lines = [
        "",
        f"Latency against load, p50 / p99 ms (producer -> result record) at fractions of this service's "
        f"drain rate ({base} docs/s); every contender gets the same input rates:",
        "",
        f"| contender | own drain docs/s | {head} |",
        "|---|---:|" + "---|" * len(points),
    ]
    for e in curved:
        cells = []
        for p in e["curve"]["points"]:
            missing = f" ({p['missing']} missing)" if p.get("missing") else ""
            cells.append(f"{p['p50']:.0f} / {p['p99']:.0f}{missing}" if "p50" in p else "-")
        lines.append(f"| {e['label']} | {e['docs_per_s']:.1f} | " + " | ".join(cells) + " |")
    return lines


def _languages(out: dict) -> list[str]:
    """The mixed-language corpus through this service: the whole corpus, then each language alone."""
    lang = out.get("languages")
    if not lang:
        return []
    if "error" in lang:
        return ["", f"Mixed-language corpus: failed: {lang['error'].splitlines()[0][:120]}"]
    lines = [
        "",
        f"{lang['label']} ({lang['corpus']}, each drain sends its documents {lang['repeat']} times; "
        "the English and French rows are that language's documents alone, `lang` as given: a code, "
        "`auto` or none):",
        "",
        "| documents | distinct docs | chars per doc | docs/s | drain s | CPU s / 1k docs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for part, d in lang["drains"].items():
        lines.append(
            f"| {part} | {d['distinct_docs']} | {d['chars_per_doc']} | {d['docs_per_s']:.1f} "
            f"| {d['drain_seconds']:.1f} | {d['cpu_s_per_1k_docs']:.1f} |"
        )
    return lines


def update_markdown(path: Path, out: dict) -> None:
    """Rewrite only the generated section; the prose around it is kept."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{table(out)}{END}{tail}")


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [e for e in out["contenders"] + out.get("scaling", []) if "docs_per_s" in e]
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [3, 2, 2]})
    names = [e["label"].split(" (")[0].replace("service ", "svc ") for e in ok]
    left.barh(names, [e["docs_per_s"] for e in ok], color=["#888" if e["name"] == "ceiling" else "#1f77b4" for e in ok])
    left.invert_yaxis()
    left.set_xlabel("docs/s draining the backlog")
    left.set_title("Throughput (ceiling = nlp.pipe, no Kafka)")
    mid.barh(
        names,
        [e.get("cpu_s_per_1k_docs", 0) for e in ok],
        color=["#888" if e["name"] == "ceiling" else "#2ca02c" for e in ok],
    )
    mid.invert_yaxis()
    mid.set_yticks([])
    mid.set_xlabel("CPU seconds per 1k docs (whole process tree)")
    mid.set_title("Cost per document (least disturbed by load)")
    lat = [e for e in ok if e.get("latency_ms", {}).get("p50") is not None]
    xs = range(len(lat))
    for offset, key in ((-0.25, "p50"), (0, "p95"), (0.25, "p99")):
        right.bar([x + offset for x in xs], [e["latency_ms"][key] / 1000 for e in lat], width=0.25, label=key)
    right.set_xticks(list(xs), [e["label"].split(" (")[0].split(":")[0] for e in lat], rotation=20, ha="right")
    right.set_yscale("log")
    right.axhline(1.0, color="red", linestyle="--", linewidth=1, label="1 s target")
    right.set_ylabel("seconds, producer -> result record (log)")
    right.set_title("Latency at a fixed rate")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    if any(e.get("curve") for e in out["contenders"]):
        plot_curve(out, curve_path(path))


def curve_path(path: Path) -> Path:
    """Where the latency curve goes beside the main plot: docs/benchmarks.png -> docs/benchmarks-latency.png."""
    return path.with_name(f"{path.stem}-latency{path.suffix}")


def plot_curve(out: dict, path: Path) -> None:
    """p50 (dashed) and p99 (solid) against the input rate, one colour per contender, with the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for e in (e for e in out["contenders"] if e.get("curve")):
        points = [p for p in e["curve"]["points"] if "p99" in p]
        rates = [p["rate_docs_per_s"] for p in points]
        (line,) = ax.plot(rates, [p["p99"] / 1000 for p in points], marker="o", label=f"{e['label']} p99")
        ax.plot(
            rates,
            [p["p50"] / 1000 for p in points],
            marker=".",
            linestyle="--",
            color=line.get_color(),
            label=f"{e['label']} p50",
        )
        ax.axvline(e["docs_per_s"], color=line.get_color(), linestyle=":", linewidth=1)
    base = next(e["curve"]["base_docs_per_s"] for e in out["contenders"] if e.get("curve"))
    ax.plot([0.5 * base, 0.8 * base], [1.0, 2.0], "r*", markersize=12, label="targets: p99 <= 1 s at 50%, 2 s at 80%")
    ax.set_yscale("log")
    ax.set_xlabel("input rate, docs/s (dotted: each contender's drain rate)")
    ax.set_ylabel("seconds, producer -> result record (log)")
    ax.set_title("Latency against load (2 cores)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.report", description=__doc__)
    p.add_argument("results", type=Path)
    p.add_argument("--report", type=Path)
    p.add_argument("--plot", type=Path)
    args = p.parse_args()
    out = json.loads(args.results.read_text())
    print(table(out))
    if args.report:
        update_markdown(args.report, out)
    if args.plot:
        plot(out, args.plot)


if __name__ == "__main__":
    main()
