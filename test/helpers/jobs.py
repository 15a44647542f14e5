"""Helpers for the tests that run the job as users do (`python -m app.run` in a subprocess): the process with its
tree, its environment, a backlog on uuid-named topics with a reader of the outputs, and the final drain that every
input must reach."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.local.stack import procs
from deploy.local.stack.clients import end_offsets, produce
from deploy.local.stack.procs import REPO
from test.helpers.streams import Tail


class Job:
    """One `python -m app.run` child process with its log file, its process tree (driver, JVM, Python workers) and
    the ways to end it: SIGTERM, kill -9, and a teardown that kills by pid whatever is left."""

    def __init__(self, env: Mapping[str, str], log_path: Path, python: str = sys.executable) -> None:
        self.log_path = log_path
        with log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [python, "-m", "app.run"], cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT
            )
        self.pid = self.proc.pid

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def tree(self) -> dict[int, int]:
        return procs.descendants(self.pid)

    def jvm_pid(self) -> int | None:
        return next((p for p in self.tree() if "org.apache.spark.deploy.SparkSubmit" in procs.cmdline(p)), None)

    def python_workers(self) -> list[int]:
        return [p for p in self.tree() if "pyspark.daemon" in procs.cmdline(p) or "pyspark.worker" in procs.cmdline(p)]

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill9(self, target: int | None = None, reap_timeout: float = 60.0) -> list[int]:
        """SIGKILL `target` (the driver by default): returns the pids of the tree still alive after the timeout."""
        start = procs.start_time(self.pid)
        tree = {self.pid: start, **self.tree()} if start is not None else self.tree()
        os.kill(target or self.pid, signal.SIGKILL)
        self.proc.wait(timeout=reap_timeout)
        deadline = time.monotonic() + reap_timeout
        while (left := [p for p, s in tree.items() if procs.alive(p, s)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def terminate(self, timeout: float = 120.0) -> int:
        """SIGTERM (the job's stop path) and its exit code."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Teardown: SIGKILL whatever is left of this job's tree, by pid."""
        tree = self.tree()
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=30)
        procs.kill_tree(tree)


def job_env(
    bootstrap: str, topics: tuple[str, str, str], checkpoint: Path, *, unset: tuple[str, ...] = (), **extra: str
) -> dict[str, str]:
    """The job's environment for these topics: this test's broker only (no KAFKA_* or PUSHGATEWAY* from outside, nor
    a variable that starts with one of `unset`); `extra` adds variables or replaces the ones set here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PUSHGATEWAY", *unset))}
    env.update(
        APP_ENV="testing",
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        INPUT_TOPIC=topics[0],
        RESULT_TOPIC=topics[1],
        DEAD_LETTER_TOPIC=topics[2],
        CHECKPOINT_LOCATION=str(checkpoint),
        KAFKA_CONSUMER_GROUP=f"g-{topics[0]}",
        SPARK_MASTER="local[2]",
        OFFSETS_COMMIT_INTERVAL_SECONDS="1",
    )
    env.update(extra)
    return env


def start_job(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`python -m app.run` as a child process, output to `log_path`."""
    return Job(env, log_path).proc


@dataclass
class Backlog:
    """A backlog on fresh topics (2 input partitions), the job's environment for it, and a Tail on its outputs."""

    bootstrap: str
    topics: tuple[str, str, str]
    env: dict[str, str]
    tail: Tail

    @classmethod
    def make(
        cls,
        bootstrap: str,
        kafka_topics: Callable[..., str],
        checkpoint: Path,
        records: list[tuple[bytes, bytes]],
        per_batch: int,
    ) -> Backlog:
        topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
        produce(bootstrap, topics[0], records)
        env = job_env(
            bootstrap, topics, checkpoint, MAX_OFFSETS_PER_TRIGGER=str(per_batch), TRIGGER_INTERVAL="0 seconds"
        )
        return cls(bootstrap, topics, env, Tail(bootstrap, topics[1], topics[2]))

    def wait_for_output(self, job: Job, above: int, what: str) -> None:
        """Until more than `above` output records were read; fails at once if the job exits."""

        def still_running() -> None:
            assert job.running(), job.log()

        self.tail.wait_until(lambda: self.tail.poll(0) > above, 300, what, still_ok=still_running)

    def drain(self, jobs: Callable[..., Job], **extra: str) -> tuple[set[tuple[str, int, int]], list]:
        """A last run drains the rest in one go; returns every input message (topic, partition, offset) and the
        source of every output record, once each input has one. The Tail is closed."""
        final = jobs(
            {**self.env, "TRIGGER_INTERVAL": "available-now", "MAX_OFFSETS_PER_TRIGGER": "0", **extra}, "final"
        )
        assert final.proc.wait(timeout=900) == 0, final.log()
        inputs = {(t, p, o) for (t, p), end in end_offsets(self.bootstrap, self.topics[0]).items() for o in range(end)}
        self.tail.wait_until(lambda: set(self.tail.sources()) >= inputs, 120, "every message in result or dead-letter")
        self.tail.poll(2)
        sources = self.tail.sources()
        self.tail.close()
        return inputs, sources
