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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
# A consumer-group contender with no input idles near zero cores (0.00-0.03 measured). kafka-python 3.0.12 sometimes
# starts a member whose poll loop spins without ever fetching (main thread ~1 core, its I/O thread ~0.5): the other
# member then does all the work on what is left of the machine, at half the rate and twice the CPU per document.
# Such a start is stopped and started again, not measured; the restarts are in the contender's summary.
IDLE_CORES_MAX = 0.5
IDLE_SECONDS = 3.0
START_ATTEMPTS = 3


class StuckContender(RuntimeError):
    """The contender came up broken: busy with no input."""


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
    command: Callable[[str, Topics], tuple[list[str], Mapping[str, str | None]]]  # env: None removes a variable
    partitions: int = 2
    info: dict = field(default_factory=dict)
    group_members: int = 0  # > 0: its processes share a consumer group; measure once it is balanced
    transactional: bool = False  # writes results in transactions: a result's time is when it is first readable


def contender_argv(program: Sequence[str], bootstrap: str, t: Topics, workers: int) -> list[str]:
    """The command line a Kafka contender takes: `program` (the interpreter and what it runs), then its broker,
    topics, consumer group and number of processes."""
    return [
        *program,
        "--bootstrap",
        bootstrap,
        "--input",
        t.input,
        "--output",
        t.output,
        "--group",
        t.group,
        "--workers",
        str(workers),
    ]


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


def launch(command: list[str], env: Mapping[str, str | None], log_path: Path) -> subprocess.Popen:
    """Start a contender in a session of its own, output to `log_path`, one inference thread per process; a None
    in `env` removes that variable."""
    full_env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONPATH": str(REPO), **env}
    return procs.spawn(command, log_path, {k: v for k, v in full_env.items() if v is not None})


def percentiles(values: Sequence[float]) -> dict:
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


class Run:
    """One contender process on fresh topics, with its resource sampler, result collector and input sender.

    Phases run in the order called, in the same process: `warm`, then any number of `drain` and `paced` phases,
    each on keys of its own. `summary()` adds what the whole run saw (duplicates, peak RSS, load).
    """

    def __init__(self, spec: Spec, bootstrap: str) -> None:
        self.spec, self.bootstrap = spec, bootstrap
        self.topics = fresh_topics(bootstrap, spec.name, spec.partitions)
        command, env = spec.command(bootstrap, self.topics)
        self.load_before = os.getloadavg()
        say(f"{spec.label}: starting ({' '.join(command[-6:])}) log {self.topics.log.relative_to(REPO)}")
        self.proc = launch(command, env, self.topics.log)
        self.sampler = TreeSampler(self.proc.pid)
        self.collector = Collector(bootstrap, self.topics.output, seen_time=spec.transactional)
        self.sender = Sender(bootstrap, self.topics.input)
        self.idle_cores: float | None = None
        self.restarts: list[str] = []
        self.sampler.start()
        self.collector.start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _progress(self, done: int, total: int) -> None:
        say(f"{self.spec.label}: {done}/{total} results")

    def warm(self, docs: list[dict]) -> None:
        if self.spec.group_members:
            took = wait_group_balanced(self.bootstrap, self.topics.group, self.spec.group_members)
            say(f"{self.spec.label}: consumer group balanced over {self.spec.group_members} members after {took:.1f}s")
        warm = [(f"warm-{i}", encode(f"warm-{i}", docs[i % len(docs)])) for i in range(8 * self.spec.partitions)]
        started = time.monotonic()
        self.sender.burst(warm)
        if not self.collector.wait_for({k for k, _ in warm}, 600, alive=self.alive):
            raise RuntimeError(f"{self.spec.label} produced no warm-up results:\n{_tail(self.topics.log)}")
        say(f"{self.spec.label}: warm after {time.monotonic() - started:.1f}s")
        if self.spec.group_members:
            self.idle_cores = round(self.sampler.cores_used(IDLE_SECONDS), 2)
            if self.idle_cores > IDLE_CORES_MAX:
                raise StuckContender(
                    f"{self.spec.label}: {self.idle_cores} cores busy with no input "
                    f"(a healthy start idles under {IDLE_CORES_MAX})"
                )

    def drain(self, docs: list[dict], tag: str = "d", expected: list | None = None) -> dict:
        """Send `docs` at once; drain time, rate and CPU per 1k docs until the last result."""
        drain = [(f"{tag}{i}-{d['uuid']}", encode(f"{tag}{i}-{d['uuid']}", d)) for i, d in enumerate(docs)]
        cpu0 = self.sampler.mark()
        sent = self.sender.burst(drain)
        if not self.collector.wait_for(set(sent), max(600.0, len(docs) / 2), self._progress, self.alive):
            raise RuntimeError(f"{self.spec.label} did not drain {len(docs)} docs:\n{_tail(self.topics.log)}")
        cpu1 = self.sampler.mark()
        got = self.collector.results(sent)
        seconds = (max(ts for ts, _ in got.values()) - min(sent.values())) / 1000
        result = {
            "docs": len(docs),
            "drain_seconds": round(seconds, 2),
            "docs_per_s": round(len(docs) / seconds, 1),
            "cpu_s_per_1k_docs": round(self.sampler.cpu_between(cpu0, cpu1) / len(docs) * 1000, 1),
            "cpu_s_per_1k_docs_by_kind": {
                k: round(v / len(docs) * 1000, 1) for k, v in self.sampler.cpu_by_kind(cpu0, cpu1).items()
            },
        }
        if expected is not None:
            entities = [json.loads(got[k][1])["entities"] for k, _ in drain]
            result["entities_differ"] = sum(a != b for a, b in zip(entities, expected, strict=True))
        say(f"{self.spec.label}: drained {len(docs)} docs ({tag}) in {seconds:.1f}s = {result['docs_per_s']} docs/s")
        return result

    def paced(self, docs: list[dict], rate: float, seconds: float, tag: str = "l") -> dict:
        """Send at `rate` docs/s for `seconds`; latency from each doc's send to its result record."""
        n = max(1, int(rate * seconds))
        keys = [f"{tag}{i}-{docs[i % len(docs)]['uuid']}" for i in range(n)]
        paced = [(k, encode(k, docs[i % len(docs)])) for i, k in enumerate(keys)]
        say(f"{self.spec.label}: {n} docs at {rate:.1f} docs/s for latency")
        sent = self.sender.paced(paced, rate)
        self.collector.wait_for(set(sent), seconds + 600, self._progress, self.alive)
        got = self.collector.results(sent)
        lat = [got[k][0] - sent[k] for k in sent if k in got]
        result = {"rate_docs_per_s": round(rate, 1), **percentiles(lat), "missing": len(sent) - len(got)}
        say(f"{self.spec.label}: latency {result}")
        return result

    def summary(self) -> dict:
        return {
            "duplicates": self.collector.duplicates,
            "peak_rss": self.sampler.peak_by_kind(),
            "idle_cores_after_warm_up": self.idle_cores,
            "restarts": self.restarts,
            "load_before": [round(x, 2) for x in self.load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        }

    def close(self) -> None:
        self.sender.close()
        _stop(self.proc)
        self.sampler.stop()
        self.collector.stop()
        delete_topics(self.bootstrap, [self.topics.input, self.topics.output, self.topics.dead])

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def warmed(spec: Spec, bootstrap: str, docs: list[dict]) -> Iterator[Run]:
    """A started and warmed-up contender, stopped on exit. A start that comes up stuck is stopped and made again on
    fresh topics, up to START_ATTEMPTS times; the reasons are in `run.restarts`."""
    stuck: list[str] = []
    for _ in range(START_ATTEMPTS):
        with Run(spec, bootstrap) as run:
            try:
                run.warm(docs)
            except StuckContender as exc:
                say(f"{exc}: stopping it and starting it again")
                stuck.append(str(exc))
                continue
            run.restarts = stuck
            yield run
            return
    raise RuntimeError(f"{spec.label} came up stuck {START_ATTEMPTS} times: {stuck}")


def measure(
    spec: Spec,
    docs: list[dict],
    bootstrap: str,
    *,
    rate: float | None,
    latency_seconds: float,
    expected: list | None = None,
    rate_from_drain: float = 0.0,
    curve: tuple[float, ...] = (),
    curve_base: float | None = None,
) -> dict:
    """Run one contender through warm-up, drain and (when a rate is known) the fixed-rate phase.

    `rate_from_drain` > 0 sets the rate to that fraction of this contender's own measured drain rate. `curve`
    adds fixed-rate phases at those fractions of `curve_base` docs/s (default: this contender's drain rate), in
    order, in the same process; a phase at the main rate's fraction is the main latency and is not run twice.
    """
    with warmed(spec, bootstrap, docs) as run:
        result = {
            "name": spec.name,
            "label": spec.label,
            "partitions": spec.partitions,
            **spec.info,
            **run.drain(docs, expected=expected),
        }
        if rate_from_drain:
            rate = rate_from_drain * result["docs_per_s"]
        base = curve_base or result["docs_per_s"]
        points = []
        for load in curve:
            point = {"load": load, **run.paced(docs, load * base, latency_seconds, tag=f"c{load}-")}
            points.append(point)
            if rate and round(load * base, 1) == round(rate, 1):  # the rate may come rounded from a result
                result["latency_ms"] = point
        if curve:
            result["curve"] = {"base_docs_per_s": round(base, 1), "points": points}
        if rate and latency_seconds > 0 and "latency_ms" not in result:
            result["latency_ms"] = run.paced(docs, rate, latency_seconds)
        return {**result, **run.summary()}


def python() -> str:
    return sys.executable
