"""Measures one Kafka contender: warm up, drain a backlog, then hold a fixed input rate for latency.

Drain time runs from the first backlog record's producer timestamp to the last result's broker timestamp, so it
includes everything the contender does (poll, deserialise, infer, serialise, write) and nothing of ours.
"""

import json
import os
import subprocess
import sys
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.contenders.common import SINGLE_THREAD_ENV
from bench.kafka_io import Collector, Sender, create_topics, encode, wait_group_balanced
from bench.procs import TreeSampler
from deploy.local.stack import procs
from deploy.local.stack.clients import delete_topics

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "bench" / "results" / "raw"


@dataclass(frozen=True)
class Topics:
    input: str
    output: str
    dead: str
    group: str
    workdir: Path

    @property
    def log(self) -> Path:
        """The contender's output, beside its work dir."""
        return self.workdir.parent / f"{self.workdir.name}.log"


@dataclass(frozen=True)
class Spec:
    """A contender: how to start it on a set of topics, and on how many partitions it runs."""

    name: str
    label: str
    command: Callable[[str, Topics], tuple[list[str], dict[str, str]]]
    partitions: int = 2
    info: dict = field(default_factory=dict)
    group_members: int = 0  # > 0: its processes share a consumer group; measure once it is balanced


def say(msg: str) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"[{time.strftime('%H:%M:%S')} load {load}] {msg}", flush=True)


def fresh_topics(bootstrap: str, name: str, partitions: int) -> Topics:
    """New input, result and dead-letter topics (and group and work dir) under a unique tag for one run."""
    tag = f"{name}-{uuidlib.uuid4().hex[:8]}"
    topics = Topics(f"bench-in-{tag}", f"bench-out-{tag}", f"bench-dead-{tag}", f"bench-{tag}", RAW / tag)
    topics.workdir.mkdir(parents=True, exist_ok=True)
    create_topics(bootstrap, [topics.input, topics.dead], [topics.output], partitions)
    return topics


def launch(command: list[str], env: dict[str, str | None], log_path: Path) -> subprocess.Popen:
    """Start a contender in a session of its own, output to `log_path`, one inference thread per process; a None
    in `env` removes that variable."""
    full_env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONPATH": str(REPO), **env}
    return procs.spawn(command, log_path, {k: v for k, v in full_env.items() if v is not None})


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    arr = np.asarray(values)
    out = {f"p{q}": round(float(np.percentile(arr, q)), 1) for q in (50, 95, 99)}
    return {"n": len(values), **out, "max": round(float(arr.max()), 1)}


def _stop(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM the contender, SIGKILL it after `timeout`, then whatever it left behind of its process tree."""
    procs.stop_tree(proc.pid, timeout, "contender")
    proc.wait(timeout=30)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def measure(spec: Spec, docs: list[dict], bootstrap: str, *, rate: float | None, latency_seconds: float,
            expected: list | None = None, rate_from_drain: float = 0.0) -> dict:
    """Run one contender through warm-up, drain and (when a rate is known) the fixed-rate phase.

    `rate_from_drain` > 0 sets the rate to that fraction of this contender's own measured drain rate.
    """
    topics = fresh_topics(bootstrap, spec.name, spec.partitions)
    command, env = spec.command(bootstrap, topics)
    log_path = topics.log
    load_before = os.getloadavg()
    say(f"{spec.label}: starting ({' '.join(command[-6:])}) log {log_path.relative_to(REPO)}")
    proc = launch(command, env, log_path)
    sampler, collector = TreeSampler(proc.pid), Collector(bootstrap, topics.output)
    sender = Sender(bootstrap, topics.input)
    sampler.start()
    collector.start()
    alive = lambda: proc.poll() is None  # noqa: E731
    progress = lambda done, total: say(f"{spec.label}: {done}/{total} results")  # noqa: E731
    try:
        if spec.group_members:
            took = wait_group_balanced(bootstrap, topics.group, spec.group_members)
            say(f"{spec.label}: consumer group balanced over {spec.group_members} members after {took:.1f}s")
        warm = [(f"warm-{i}", encode(f"warm-{i}", docs[i % len(docs)])) for i in range(8 * spec.partitions)]
        started = time.monotonic()
        sender.burst(warm)
        if not collector.wait_for({k for k, _ in warm}, 600, alive=alive):
            raise RuntimeError(f"{spec.label} produced no warm-up results:\n{_tail(log_path)}")
        say(f"{spec.label}: warm after {time.monotonic() - started:.1f}s; draining {len(docs)} docs")

        drain = [(f"d{i}-{d['uuid']}", encode(f"d{i}-{d['uuid']}", d)) for i, d in enumerate(docs)]
        cpu0 = sampler.mark()
        sent = sender.burst(drain)
        if not collector.wait_for(set(sent), max(600.0, len(docs) / 2), progress, alive):
            raise RuntimeError(f"{spec.label} did not drain {len(docs)} docs:\n{_tail(log_path)}")
        cpu1 = sampler.mark()
        got = collector.results(sent)
        seconds = (max(ts for ts, _ in got.values()) - min(sent.values())) / 1000
        result = {"name": spec.name, "label": spec.label, "partitions": spec.partitions, **spec.info,
                  "docs": len(docs), "drain_seconds": round(seconds, 2), "docs_per_s": round(len(docs) / seconds, 1),
                  "cpu_s_per_1k_docs": round(sampler.cpu_between(cpu0, cpu1) / len(docs) * 1000, 1),
                  "cpu_s_per_1k_docs_by_kind": {k: round(v / len(docs) * 1000, 1)
                                                for k, v in sampler.cpu_by_kind(cpu0, cpu1).items()},
                  "load_before": [round(x, 2) for x in load_before]}
        if expected is not None:
            entities = [json.loads(got[k][1])["entities"] for k, _ in drain]
            result["entities_differ"] = sum(a != b for a, b in zip(entities, expected, strict=True))
        say(f"{spec.label}: drained {len(docs)} docs in {seconds:.1f}s = {result['docs_per_s']} docs/s")

        if rate_from_drain:
            rate = rate_from_drain * result["docs_per_s"]
        if rate and latency_seconds > 0:
            n = max(1, int(rate * latency_seconds))
            keys = [f"l{i}-{docs[i % len(docs)]['uuid']}" for i in range(n)]
            paced = [(k, encode(k, docs[i % len(docs)])) for i, k in enumerate(keys)]
            say(f"{spec.label}: {n} docs at {rate:.1f} docs/s for latency")
            sent = sender.paced(paced, rate)
            collector.wait_for(set(sent), latency_seconds + 600, progress, alive)
            got = collector.results(sent)
            lat = [got[k][0] - sent[k] for k in sent if k in got]
            result["latency_ms"] = {"rate_docs_per_s": round(rate, 1), **percentiles(lat),
                                    "missing": len(sent) - len(got)}
            say(f"{spec.label}: latency {result['latency_ms']}")
        result["duplicates"] = collector.duplicates
        result["peak_rss"] = sampler.peak_by_kind()
        result["load_after"] = [round(x, 2) for x in os.getloadavg()]
        return result
    finally:
        sender.close()
        _stop(proc)
        sampler.stop()
        collector.stop()
        delete_topics(bootstrap, [topics.input, topics.output, topics.dead])


def python() -> str:
    return sys.executable
