"""Kafka plumbing for the harness: topics, a burst and a paced producer, a background collector of results.

Input records carry the producer's timestamp (CreateTime, set at send); result topics use LogAppendTime, so every
contender's results are stamped by the same clock (the broker's) the moment they are written.

Results are read with isolation_level=read_committed, as a consumer of an exactly-once contender must read them
(for a contender that does not write in transactions it changes nothing). A transactional result is stamped when
it is appended, before its transaction commits and it becomes readable: for such a contender the collector's own
clock at the first sight of a result (the harness's clock, the one that stamps the input) is its time instead.
"""

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaProducer

from deploy.local.stack import clients


def create_topics(bootstrap: str, inputs: Iterable[str], outputs: Iterable[str], partitions: int) -> None:
    clients.create_topics(bootstrap, inputs, partitions)
    clients.create_topics(bootstrap, outputs, partitions, {"message.timestamp.type": "LogAppendTime"})


def _assigned_partitions(member: dict) -> int:
    assignment = member.get("member_assignment") or {}
    if not isinstance(assignment, dict):
        return 0
    return sum(len(tp.get("partitions", [])) for tp in assignment.get("assigned_partitions", []))


def wait_group_balanced(bootstrap: str, group: str, members: int, timeout: float = 180) -> float:
    """Block until the consumer group is Stable with `members` members that each hold a partition; seconds taken.

    A group of N processes forms one join at a time: the first member takes every partition until the others
    join and a rebalance splits them. Measured before that, a contender runs on one core of two.
    """
    started = time.monotonic()
    last: dict = {}
    with clients.admin(bootstrap) as admin:
        while time.monotonic() - started < timeout:
            last = admin.describe_groups([group]).get(group, {})
            state = str(last.get("group_state", "")).lower()
            held = [_assigned_partitions(m) for m in last.get("members", [])]
            if state == "stable" and len(held) == members and all(held):
                return time.monotonic() - started
            time.sleep(0.5)
    msg = f"group {group} not balanced over {members} members after {timeout:.0f}s: {last}"
    raise RuntimeError(msg)


def encode(uuid: str, doc: dict) -> bytes:
    return json.dumps({"uuid": uuid, "text": doc["text"], "lang": doc.get("lang", "en")}).encode()


class Sender:
    """Writes (uuid, value) records keyed by uuid and returns each record's producer timestamp (ms)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks=1, linger_ms=2, batch_size=256 * 1024, max_request_size=8 * 1024 * 1024
        )

    def _send(self, uuid: str, value: bytes):
        return self.producer.send(self.topic, key=uuid.encode(), value=value, timestamp_ms=int(time.time() * 1000))

    def burst(self, records: list[tuple[str, bytes]]) -> dict[str, int]:
        futures = [(uuid, self._send(uuid, value)) for uuid, value in records]
        self.producer.flush()
        return {uuid: f.get(timeout=60).timestamp for uuid, f in futures}

    def paced(self, records: list[tuple[str, bytes]], rate: float) -> dict[str, int]:
        """One record every 1/rate seconds (open loop: the schedule never waits for the contender)."""
        started = time.monotonic()
        futures = []
        for i, (uuid, value) in enumerate(records):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append((uuid, self._send(uuid, value)))
        self.producer.flush()
        return {uuid: f.get(timeout=60).timestamp for uuid, f in futures}

    def close(self) -> None:
        self.producer.close()


class Collector(threading.Thread):
    """Reads a result topic's committed records from the beginning in the background: first timestamp and value
    per key. The timestamp is the record's (the broker's append time), or with `seen_time` the collector's clock
    when it first read the record (ms), for results written in transactions."""

    def __init__(self, bootstrap: str, topic: str, seen_time: bool = False) -> None:
        super().__init__(name=f"collector-{topic}", daemon=True)
        # Timed by our clock, a result must be read as soon as it commits: a fetch the broker holds waits 50 ms at
        # most for data (500 by default), so a commit that does not wake the fetch adds no more than that.
        wait: dict[str, Any] = {"fetch_max_wait_ms": 50} if seen_time else {}
        self.consumer = clients.consumer_at(
            bootstrap, [topic], fetch_max_bytes=64 * 1024 * 1024, isolation_level="read_committed", **wait
        )
        self.seen_time = seen_time
        self.seen: dict[str, tuple[int, bytes]] = {}
        self.duplicates = 0
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.take(self.consumer.poll(timeout_ms=200).values())
        self.consumer.close()

    def take(self, batches: Iterable[Iterable]) -> None:
        """Record polled records: the first of each key, and how many keys came again."""
        now = int(time.time() * 1000)
        with self._lock:
            for records in batches:
                for r in records:
                    key = r.key.decode() if r.key is not None else ""
                    if key in self.seen:
                        self.duplicates += 1  # at-least-once redelivery
                    else:
                        self.seen[key] = (now if self.seen_time else r.timestamp, r.value)

    def count(self, keys: set[str]) -> int:
        with self._lock:
            return sum(1 for k in keys if k in self.seen)

    def wait_for(
        self,
        keys: set[str],
        timeout: float,
        progress: Callable[[int, int], None] | None = None,
        alive: Callable[[], bool] = lambda: True,
    ) -> bool:
        """True once every key has a result; False on timeout or when `alive()` turns false."""
        deadline = time.monotonic() + timeout
        last_report = 0.0
        while time.monotonic() < deadline:
            done = self.count(keys)
            if done >= len(keys):
                return True
            if not alive():
                return False
            if progress and time.monotonic() - last_report >= 5:
                progress(done, len(keys))
                last_report = time.monotonic()
            time.sleep(0.1)
        return False

    def results(self, keys: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        with self._lock:
            return {k: self.seen[k] for k in keys if k in self.seen}

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
