"""Helpers for the tests that run the job as users do (`python -m app.run` in a subprocess): its environment, a
backlog on uuid-named topics with a reader of the outputs, and the final drain that every input must reach."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.local.stack.clients import end_offsets, produce
from deploy.local.stack.job import Job
from test.helpers.streams import Tail


def job_env(bootstrap: str, topics: tuple[str, str, str], checkpoint: Path, **extra: str) -> dict[str, str]:
    """The job's environment for these topics: this test's broker only (no KAFKA_* or PUSHGATEWAY* from outside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PUSHGATEWAY"))}
    env.update(APP_ENV="testing", KAFKA_BOOTSTRAP_SERVERS=bootstrap, INPUT_TOPIC=topics[0], RESULT_TOPIC=topics[1],
               DEAD_LETTER_TOPIC=topics[2], CHECKPOINT_LOCATION=str(checkpoint), KAFKA_CONSUMER_GROUP=f"g-{topics[0]}",
               SPARK_MASTER="local[2]", OFFSETS_COMMIT_INTERVAL_SECONDS="1", **extra)
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
    def make(cls, bootstrap: str, kafka_topics: Callable[..., str], checkpoint: Path,
             records: list[tuple[bytes, bytes]], per_batch: int) -> Backlog:
        topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
        produce(bootstrap, topics[0], records)
        env = job_env(bootstrap, topics, checkpoint, MAX_OFFSETS_PER_TRIGGER=str(per_batch),
                      TRIGGER_INTERVAL="0 seconds")
        return cls(bootstrap, topics, env, Tail(bootstrap, topics[1], topics[2]))

    def wait_for_output(self, job: Job, above: int, what: str) -> None:
        """Until more than `above` output records were read; fails at once if the job exits."""
        def still_running() -> None:
            assert job.running(), job.log()

        self.tail.wait_until(lambda: self.tail.poll(0) > above, 300, what, still_ok=still_running)

    def drain(self, jobs: Callable[..., Job], **extra: str) -> tuple[set[tuple[str, int, int]], list]:
        """A last run drains the rest in one go; returns every input message (topic, partition, offset) and the
        source of every output record, once each input has one. The Tail is closed."""
        final = jobs({**self.env, "TRIGGER_INTERVAL": "available-now", "MAX_OFFSETS_PER_TRIGGER": "0", **extra},
                     "final")
        assert final.proc.wait(timeout=900) == 0, final.log()
        inputs = {(t, p, o) for (t, p), end in end_offsets(self.bootstrap, self.topics[0]).items() for o in range(end)}
        self.tail.wait_until(lambda: set(self.tail.sources()) >= inputs, 120, "every message in result or dead-letter")
        self.tail.poll(2)
        sources = self.tail.sources()
        self.tail.close()
        return inputs, sources
