"""`python -m bench.shares`: where the machine's cores go while a contender drains a backlog.

For a window in the middle of a drain, every process on the machine is charged to one role: the inference (the
service's forked inference processes; each plain-consumer process, which runs its Kafka clients too), the
service's Python workers, JVM and driver, the Kafka broker, this harness (the load generator and the result
collector), and everything else; idle is what no process used. The ceiling has the machine to itself (no broker,
no harness, no JVM), so the inference's share here bounds a Kafka contender's ratio to the ceiling on one machine.
"""

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import harness
from bench.corpus import corpus_path, load_docs
from bench.harness import REPO, say
from bench.machine import describe
from bench.run import specs

ROLES = (
    "inference",
    "service Python workers",
    "service JVM",
    "contender driver",
    "Kafka broker",
    "bench harness",
    "other",
    "idle",
)


@dataclass(frozen=True)
class Proc:
    ppid: int
    cmdline: str


def _is_worker(proc: Proc | None) -> bool:
    return proc is not None and "pyspark.daemon" in proc.cmdline


def _ancestors(pid: int, table: dict[int, Proc]) -> list[int]:
    chain, seen = [], set()
    while pid in table and pid not in seen:
        seen.add(pid)
        pid = table[pid].ppid
        chain.append(pid)
    return chain


def role(pid: int, table: dict[int, Proc], contender: int, harness_pid: int) -> str:
    """The role of one process, from the process table (pid -> parent and command line)."""
    proc = table[pid]
    lineage = [pid, *_ancestors(pid, table)]
    if contender in lineage:
        if pid == contender:
            return "contender driver"
        if proc.cmdline.split(" ", 1)[0].endswith("java"):
            return "service JVM"
        if _is_worker(proc):
            # pyspark.daemon (child of the JVM) forks the workers; a worker forks its inference process.
            parent = table.get(proc.ppid)
            grandparent = table.get(parent.ppid) if parent else None
            return "inference" if _is_worker(parent) and _is_worker(grandparent) else "service Python workers"
        if proc.ppid == contender:  # the plain consumer's worker processes: Kafka clients and spaCy in one
            return "inference"
        return "contender driver"
    if harness_pid in lineage:
        return "bench harness"
    if "kafka.Kafka" in proc.cmdline:
        return "Kafka broker"
    return "other"


def _table() -> dict[int, Proc]:
    """Every live process: its parent and command line (words joined by spaces, as procs.cmdline has them)."""
    return {
        p.pid: Proc(p.info["ppid"], " ".join(p.info["cmdline"] or ()))
        for p in psutil.process_iter(["ppid", "cmdline"])
        if p.info["ppid"] is not None
    }


def _cpu() -> dict[int, float]:
    """User plus system CPU seconds of every live process (as procs.cpu_seconds counts them)."""
    return {
        p.pid: p.info["cpu_times"].user + p.info["cpu_times"].system
        for p in psutil.process_iter(["cpu_times"])
        if p.info["cpu_times"] is not None
    }


def measure_window(contender: int, seconds: float) -> dict:
    """Core-seconds per role over `seconds`, and as shares of the machine (cores x seconds)."""
    cpu0, idle0, started = _cpu(), psutil.cpu_times(), time.monotonic()
    time.sleep(seconds)
    cpu1, idle1, wall = _cpu(), psutil.cpu_times(), time.monotonic() - started
    table = _table()
    used = dict.fromkeys(ROLES, 0.0)
    for pid, cpu in cpu1.items():
        if pid in table:
            used[role(pid, table, contender, os.getpid())] += cpu - cpu0.get(pid, 0.0)
    used["idle"] = (idle1.idle + idle1.iowait) - (idle0.idle + idle0.iowait)
    capacity = wall * (os.cpu_count() or 1)
    return {
        "window_s": round(wall, 1),
        "core_seconds": {k: round(v, 2) for k, v in used.items()},
        "share": {k: round(v / capacity, 3) for k, v in used.items()},
    }


def shares(name: str, docs: list[dict], bootstrap: str, delay: float, window: float) -> dict:
    spec = specs(os.cpu_count() or 1)[name]
    with harness.warmed(spec, bootstrap, docs) as run:
        found: dict = {}

        def sample() -> None:
            time.sleep(delay)
            found.update(measure_window(run.proc.pid, window))

        sampler = threading.Thread(target=sample, name="shares", daemon=True)
        sampler.start()
        drained = run.drain(docs)
        sampler.join()
    if drained["drain_seconds"] < delay + window:
        raise RuntimeError(f"{name} drained in {drained['drain_seconds']} s, before the window ended: more --docs")
    return {
        "contender": name,
        "docs_per_s": drained["docs_per_s"],
        "cpu_s_per_1k_docs": drained["cpu_s_per_1k_docs"],
        **found,
    }


def table(results: list[dict]) -> str:
    lines = ["| role | " + " | ".join(r["contender"] for r in results) + " |", "|---|" + "---:|" * len(results)]
    for k in ROLES:
        lines.append(f"| {k} | " + " | ".join(f"{100 * r['share'][k]:.1f}%" for r in results) + " |")
    lines.append("| drain docs/s | " + " | ".join(str(r["docs_per_s"]) for r in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.shares", description=__doc__)
    p.add_argument("--contenders", default="service,consumer", help="comma list: service, consumer, quix")
    p.add_argument("--docs", type=int, default=4000, help="backlog size: the drain must outlast delay + window")
    p.add_argument("--delay", type=float, default=4.0, help="seconds into the drain before the window opens")
    p.add_argument("--window", type=float, default=12.0, help="seconds measured")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29792"))
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "raw" / "shares.json")
    args = p.parse_args(argv)
    docs = load_docs(corpus_path(), args.docs)
    command = "python -m bench.shares " + " ".join(argv if argv is not None else sys.argv[1:])
    out: dict[str, Any] = {"meta": describe(command), "results": []}
    for name in [c.strip() for c in args.contenders.split(",") if c.strip()]:
        out["results"].append(shares(name, docs, args.bootstrap, args.delay, args.window))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    say("share of the machine's cores during the drain window\n" + table(out["results"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
