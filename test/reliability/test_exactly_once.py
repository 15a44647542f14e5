"""OUTPUT_GUARANTEE=exactly-once under faults: kill -9 of the driver, of its JVM and of a Python worker, a broker
restart, a replayed micro-batch and the quarantine's restart. A read_committed consumer must see every input
record's result or dead letter exactly once: 0 lost, 0 duplicates (app/kafka/transactions.py)."""

from __future__ import annotations

import collections
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.local.stack import procs
from deploy.local.stack.broker import Broker
from deploy.local.stack.clients import committed, create_topics, end_offsets
from deploy.local.stack.procs import REPO
from test.helpers.jobs import Backlog, Job
from test.helpers.streams import keyed_records

pytestmark = pytest.mark.reliability
KINDS = ("driver", "jvm", "python-worker", "broker")
EXACTLY_ONCE = {"OUTPUT_GUARANTEE": "exactly-once", "KAFKA_TRANSACTION_TIMEOUT_MS": "20000"}


@pytest.fixture(scope="module")
def eos_broker() -> Iterator[Broker]:
    """A broker of this module's own (ports 29894/29895, which no other test uses), as it is restarted: the shared
    one never is."""
    broker = Broker(REPO / ".local" / "rel-eos", port=29894, controller_port=29895)
    broker.reset()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def topics_on(broker: Broker):
    """A factory like kafka_topics' on this module's broker (its state is reset with it)."""

    def make(prefix: str, partitions: int = 1) -> str:
        name = f"{prefix}-{time.time_ns()}"
        create_topics(broker.bootstrap, [name], partitions)
        return name

    return make


def task_workers(job: Job) -> dict[int, int]:
    """The Python workers as {pid: start time}: the processes pyspark's daemon (the JVM's child) forked, which share
    its command line. While the stream has a backlog each input partition's task runs in one of them."""
    pythons = set(job.python_workers())  # the daemon and its workers; one that exits meanwhile is left out
    return {w: start for d in pythons for w, start in procs.descendants(d).items() if w in pythons}


def fault(kind: str, job: Job, broker: Broker, written: Callable[[], int], per_batch: int) -> str:
    """Strike once, and say what happened to the job. `written` reads the output and counts it."""
    if kind in ("driver", "jvm"):
        target = job.pid if kind == "driver" else job.jvm_pid()
        assert target is not None and job.running(), job.log()
        orphans = job.kill9(target)
        assert not orphans, f"processes left after kill -9 of the {kind}: {orphans}"
        return "killed"
    if kind == "python-worker":
        deadline = time.monotonic() + 60
        while not (workers := task_workers(job)):
            assert job.running() and time.monotonic() < deadline, job.log()
            time.sleep(0.1)
        procs.kill_tree(workers)  # by pid and start time: a worker that ended meanwhile is skipped
    else:
        broker.stop()
        time.sleep(8)
        broker.start()
    # The micro-batch fails (Spark in local mode does not retry a task): the quarantine finds no poison in it and
    # the job exits 1; or the job rides the fault out (the workers killed were idle between tasks, the broker came
    # back before a send failed): it has ridden it out once two batches' worth more is written (one batch's worth
    # may have been committed before the fault and read only since). Either way it is restarted or goes on.
    before = written()
    deadline = time.monotonic() + 120
    while job.running() and time.monotonic() < deadline:
        if written() >= before + 2 * per_batch:
            return "survived"
        time.sleep(0.5)
    return "survived" if job.running() else f"exit {job.proc.returncode}"


def run_matrix(corpus, broker: Broker, jobs, tmp_path: Path, n: int, rounds: int, per_batch: int):
    seed = int(os.environ.get("RELIABILITY_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    records = keyed_records(corpus, n, prefix="eos")
    for i in range(0, n, 50):  # 2% bad input: dead letters are written in the same transactions
        records[i] = (records[i][0], b'{"uuid": "' + records[i][0] + b'", "text": ')
    stream = Backlog.make(broker.bootstrap, topics_on(broker), tmp_path / "ckpt", records, per_batch)
    stream.env.update(EXACTLY_ONCE)
    tail = stream.tail
    job: Job | None = None
    outcomes = []
    for i, kind in enumerate(k for _ in range(rounds) for k in KINDS):
        if job is None or not job.running():
            job = jobs(stream.env, f"run-{i}")
        stream.wait_for_output(job, tail.poll(0), f"run {i} writes output before the {kind} fault")
        time.sleep(rng.uniform(0.0, 2.0))
        outcomes.append(f"{kind}: {fault(kind, job, broker, lambda: tail.poll(0.2), per_batch)}")
        tail.poll(1)
        assert len(tail.sources()) == len(set(tail.sources())), f"duplicates after {outcomes[-1]}"
        assert len(set(tail.sources())) < n, f"the stream ended before the {kind} fault: use more messages"
    if job is not None and job.running():
        assert job.terminate() == 0, job.log()

    inputs, sources = stream.drain(jobs, **EXACTLY_ONCE)
    lost = inputs - set(sources)
    duplicates = len(sources) - len(set(sources))
    print(
        f"\nRELIABILITY exactly-once: messages={n} faults={outcomes} maxOffsetsPerTrigger={per_batch} seed={seed} "
        f"lost={len(lost)} duplicates={duplicates}"
    )
    assert not lost
    assert duplicates == 0, collections.Counter(sources).most_common(3)
    assert len(sources) == n
    # The group Burrow reads holds what was written, committed by the same transactions.
    assert committed(broker.bootstrap, stream.env["KAFKA_CONSUMER_GROUP"]) == end_offsets(
        broker.bootstrap, stream.topics[0]
    )
    assert {d["value"]["reason"] for d in stream.tail.dead_letters} == {"invalid_json"}
    return stream


def replay_last_batch(stream: Backlog, jobs, checkpoint: Path) -> None:
    """Forget that the last micro-batch was committed: Spark runs it again from its logged offsets."""
    commits = checkpoint / "commits"
    last = max((int(p.name) for p in commits.iterdir() if p.name.isdigit()), default=None)
    assert last is not None
    (commits / str(last)).unlink()
    (commits / f".{last}.crc").unlink(missing_ok=True)
    replay = jobs({**stream.env, "TRIGGER_INTERVAL": "available-now", "MAX_OFFSETS_PER_TRIGGER": "0"}, "replay")
    assert replay.proc.wait(timeout=600) == 0, replay.log()
    assert (commits / str(last)).exists(), "the batch was not run again"


@pytest.mark.timeout(1500)
def test_exactly_once_through_every_kind_of_crash(corpus, eos_broker, jobs, tmp_path):
    stream = run_matrix(corpus, eos_broker, jobs, tmp_path, n=4_000, rounds=1, per_batch=200)
    # A replayed micro-batch writes nothing twice: its records are below the group's committed offsets.
    tail = type(stream.tail)(stream.bootstrap, stream.topics[1], stream.topics[2])
    replay_last_batch(stream, jobs, tmp_path / "ckpt")
    tail.poll(5)
    tail.close()
    assert len(tail.sources()) == len(set(tail.sources())) == 4_000


@pytest.mark.slow
@pytest.mark.reliability_full
@pytest.mark.timeout(3600)
def test_exactly_once_through_every_kind_of_crash_full(corpus, eos_broker, jobs, tmp_path):
    run_matrix(corpus, eos_broker, jobs, tmp_path, n=20_000, rounds=3, per_batch=200)
