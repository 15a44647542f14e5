"""Commits the query's processed offsets to a Kafka consumer group, so lag tools (Burrow) can see it.

The Spark checkpoint stays the source of truth; this is a read-only mirror for monitoring. We commit the
source's *end* offsets of each completed micro-batch: Kafka (and Burrow) expect the next offset to consume.
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.structs import OffsetAndMetadata

from app.workers.worker import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OffsetsSnapshot:
    """The next offset to read per (topic, partition) after micro-batch `batch_id`."""

    batch_id: int
    offsets: Mapping[tuple[str, int], int]


def snapshot_from_progress(progress: Mapping[str, Any]) -> OffsetsSnapshot | None:
    """End offsets of every Kafka source in a StreamingQueryProgress (as a dict), or None if it has none."""
    offsets: dict[tuple[str, int], int] = {}
    for source in progress.get("sources", []):
        end = source.get("endOffset")
        if isinstance(end, str):
            end = json.loads(end) if end.strip().startswith("{") else None
        if not isinstance(end, dict):
            continue
        for topic, partitions in end.items():
            for partition, offset in partitions.items():
                offsets[(topic, int(partition))] = int(offset)
    if not offsets:
        return None
    return OffsetsSnapshot(batch_id=int(progress.get("batchId", -1)), offsets=offsets)


CommitFn = Callable[[str, OffsetsSnapshot], None]


def kafka_commit(client_config: Mapping[str, Any]) -> CommitFn:
    """A commit function on a KafkaAdminClient created lazily (and re-created after a failure)."""
    state: dict[str, KafkaAdminClient | None] = {"admin": None}

    def commit(group: str, snapshot: OffsetsSnapshot) -> None:
        admin = state["admin"]
        if admin is None:
            admin = state["admin"] = KafkaAdminClient(client_id="ner-offsets-committer", **client_config)
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(o, f"batch {snapshot.batch_id}", -1)
            for (t, p), o in snapshot.offsets.items()
        }
        try:
            errors = admin.alter_group_offsets(group, offsets)
        except Exception:
            state["admin"] = None  # a fresh client next time
            admin.close()
            raise
        failed = {f"{tp.topic}[{tp.partition}]": e.__name__ for tp, e in errors.items() if e.errno != 0}
        if failed:
            msg = f"commit of batch {snapshot.batch_id} to group {group!r} failed for {failed}"
            raise RuntimeError(msg)

    return commit


class OffsetsCommitter(Worker):
    """Holds the newest completed batch's offsets (offered by the progress poller) and commits them with backoff."""

    name = "offsets-committer"

    def __init__(
        self,
        group: str,
        commit: CommitFn,
        interval: float,
        on_commit: Callable[[], None] = lambda: None,
        on_failure: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        max_backoff: float = 60.0,
    ) -> None:
        super().__init__(interval)
        self.group = group
        self._commit = commit
        self._on_commit, self._on_failure = on_commit, on_failure
        self._clock = clock
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._pending: OffsetsSnapshot | None = None
        self.committed: OffsetsSnapshot | None = None
        self._failures = 0
        self._next_attempt = 0.0

    def offer(self, snapshot: OffsetsSnapshot | None) -> None:
        """Non-blocking: called from the progress poller; only the newest snapshot matters."""
        if snapshot is None:
            return
        with self._lock:
            if self._pending is None or snapshot.batch_id >= self._pending.batch_id:
                self._pending = snapshot

    def step(self) -> None:
        with self._lock:
            snapshot = self._pending
        if snapshot is None or snapshot == self.committed:
            return
        if self._clock() < self._next_attempt and not self._stop.is_set():
            return  # backing off after failures
        try:
            self._commit(self.group, snapshot)
        except Exception:
            self._failures += 1
            self._next_attempt = self._clock() + min(self._max_backoff, self.interval * 2**self._failures)
            self._on_failure()
            raise
        self._failures, self._next_attempt = 0, 0.0
        self.committed = snapshot
        self._on_commit()
        log.debug("committed batch %d offsets to group %s", snapshot.batch_id, self.group)
