"""A broker a test owns (it may stop, restart or reconfigure it) and an incremental reader of output topics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from test.fixtures.kafka import KAFKA_SH, REPO


@dataclass
class OwnBroker:
    """deploy/local/kafka/kafka.sh on ports and a state dir of the test's own; data survives stop/start."""

    port: int
    state_dir: str
    extra_properties: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(self.port + 1),
               "KAFKA_STATE_DIR": self.state_dir}
        env.pop("KAFKA_EXTRA_PROPERTIES", None)
        if self.extra_properties is not None:
            env["KAFKA_EXTRA_PROPERTIES"] = str(self.extra_properties)
        subprocess.run(["bash", str(KAFKA_SH), command], env=env, check=True, timeout=180)

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def fresh(self) -> OwnBroker:
        """Stop one left over by a killed session (it holds the ports), wipe the state, start."""
        self.stop()
        shutil.rmtree(REPO / self.state_dir, ignore_errors=True)
        self.start()
        return self


@dataclass
class Tail:
    """Reads the result and dead-letter topics from the beginning, keeping up with new records on each poll."""

    bootstrap: str
    result_topic: str
    dead_letter_topic: str
    results: list[dict] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                       max_partition_fetch_bytes=8 * 1024 * 1024)
        partitions = []
        for topic in (self.result_topic, self.dead_letter_topic):
            deadline = time.monotonic() + 30
            while not (found := self._consumer.partitions_for_topic(topic)) and time.monotonic() < deadline:
                time.sleep(0.2)
            partitions += [TopicPartition(topic, p) for p in sorted(found or ())]
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning()

    def poll(self, seconds: float = 0.5) -> int:
        """Fetch what arrived; returns how many records are known in total."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for tp, records in self._consumer.poll(timeout_ms=200, max_records=20000).items():
                target = self.results if tp.topic == self.result_topic else self.dead_letters
                target.extend({"key": r.key, "value": json.loads(r.value)} for r in records)
        return len(self.results) + len(self.dead_letters)

    def uuids(self) -> list[str]:
        """The uuid of every output record: the result's uuid field, the dead letter's key (its original key)."""
        return [r["value"]["uuid"] for r in self.results] + [
            d["key"].decode(errors="replace") for d in self.dead_letters if d["key"] is not None]

    def sources(self) -> list[tuple[str, int, int]]:
        """Each output record's input message as (topic, partition, offset): a message's identity (two messages
        may carry the same uuid), which every result and dead letter records."""
        return [(o["value"]["source"]["topic"], o["value"]["source"]["partition"], o["value"]["source"]["offset"])
                for o in self.results + self.dead_letters]

    def wait_until(self, done: Callable[[], bool], timeout: float, what: str,
                   still_ok: Callable[[], None] = lambda: None) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not reached within {timeout:.0f}s ({self.poll(0)} records read)")
            still_ok()
            self.poll()

    def close(self) -> None:
        self._consumer.close()
