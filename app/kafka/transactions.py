"""Exactly-once output (OUTPUT_GUARANTEE=exactly-once): the Python workers write the records themselves, in Kafka
transactions that also commit the input offsets to the consumer group (Kafka's consume-transform-produce pattern,
KIP-98 and KIP-447), instead of handing them to Spark's at-least-once Kafka sink.

One input partition has one transactional id, `ner/<group>/<topic>/<partition>`, so whichever task writes that
partition is the only live producer of it: starting one (`init_transactions`) fences every older one (a zombie task
of a crashed or replaced worker) and completes or aborts its open transaction. The group's committed offset of the
partition then says exactly what is written: records below it are in committed transactions, nothing at or above it
is visible to a `read_committed` consumer. A replayed micro-batch (after a crash, a restart from the checkpoint, the
quarantine) skips the records below it and writes the rest, each in a transaction with the offset after its last
record. docs/reliability.md walks through the failure cases.

A transaction holds the records of one Arrow batch of one partition (ARROW_MAX_RECORDS_PER_BATCH rows): bounded in
size, and open only while those records are sent, never across an inference call; the broker aborts one left open
longer than KAFKA_TRANSACTION_TIMEOUT_MS (a worker that died mid-send).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.contract import RECORD_FRAMING_BYTES, Annotated, Row

NOTHING_COMMITTED = -1  # no offset committed for the partition yet: every record is still to be written
# The transactional producer's own options; the connection (librdkafka_config) comes first, these are pinned after it.
PINNED = {"enable.idempotence": "true", "acks": "all", "linger.ms": "5"}


def transactional_id(group: str, topic: str, partition: int) -> str:
    """Stable for one input partition and group: the unit that a zombie is fenced on."""
    return f"ner/{group}/{topic}/{partition}"


@dataclass(frozen=True)
class TransactionConfig:
    """What a Python worker needs to write transactionally: plain data, pickled with the annotator."""

    client: tuple[tuple[str, str], ...]  # librdkafka connection options (app/kafka/options.py librdkafka_config)
    group: str  # KAFKA_CONSUMER_GROUP: the offsets go there, where Burrow reads them
    result_topic: str
    dead_letter_topic: str
    timeout_ms: int  # KAFKA_TRANSACTION_TIMEOUT_MS
    record_bytes: int  # the largest record the records are sized for (RecordBudget.record_bytes)

    @property
    def timeout_seconds(self) -> float:
        return self.timeout_ms / 1000

    def producer_config(self, topic: str, partition: int) -> dict[str, str]:
        return {
            **dict(self.client),
            **PINNED,
            "transactional.id": transactional_id(self.group, topic, partition),
            "transaction.timeout.ms": str(self.timeout_ms),
            # librdkafka's message.max.bytes bounds a request; records are sized to record_bytes with framing.
            "message.max.bytes": str(self.record_bytes + RECORD_FRAMING_BYTES),
        }

    def consumer_config(self) -> dict[str, str]:
        """A consumer that never joins the group: it reads the committed offsets (stable ones only, as
        read_committed asks the broker for) and lends the group's identity to the transactions."""
        return {
            **dict(self.client),
            "group.id": self.group,
            "enable.auto.commit": "false",
            "isolation.level": "read_committed",
        }


def _clients() -> tuple[Callable[[dict], Any], Callable[[dict], Any], Callable[..., Any]]:
    from confluent_kafka import Consumer, Producer, TopicPartition  # in the workers only, where it is used

    return Producer, Consumer, TopicPartition


class PartitionWriter:
    """Writes one input partition's output records, each batch in one transaction with its offsets."""

    def __init__(self, config: TransactionConfig, topic: str, partition: int) -> None:
        producer_class, consumer_class, self._partition_class = _clients()
        self._config, self.topic, self.partition = config, topic, partition
        self._producer = producer_class(config.producer_config(topic, partition))
        # Fences older producers of this id and completes or aborts their open transaction, so that the committed
        # offset read next is final.
        self._producer.init_transactions(config.timeout_seconds)
        self._consumer = consumer_class(config.consumer_config())
        (committed,) = self._consumer.committed([self._partition_class(topic, partition)], config.timeout_seconds)
        if committed.error:
            raise RuntimeError(f"reading {config.group}'s offset of {topic}[{partition}]: {committed.error}")
        self.written_until = committed.offset if committed.offset >= 0 else NOTHING_COMMITTED
        self._metadata = self._consumer.consumer_group_metadata()

    def unwritten(self, offset: int) -> bool:
        """Whether the record at `offset` is still to be written (not in a committed transaction)."""
        return offset >= self.written_until

    def write(self, records: Sequence[tuple[int, Annotated]]) -> None:
        """Write (offset, record) pairs of increasing offsets in one transaction that commits the offset after the
        last one; nothing of it is visible if any send fails (it is aborted and the error raised)."""
        if not records:
            return
        next_offset = records[-1][0] + 1
        self._producer.begin_transaction()
        try:
            for _, record in records:
                self._send(record)
            self._producer.send_offsets_to_transaction(
                [self._partition_class(self.topic, self.partition, next_offset)],
                self._metadata,
                self._config.timeout_seconds,
            )
            self._producer.commit_transaction(self._config.timeout_seconds)
        except BaseException:
            self._abort()
            raise
        self.written_until = next_offset

    def _send(self, record: Annotated) -> None:
        topic = self._config.result_topic if record.ok else self._config.dead_letter_topic
        headers = list(record.headers) or None
        while True:
            try:
                self._producer.produce(topic, value=record.value, key=record.key, headers=headers)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(self._config.timeout_seconds)
        except Exception:  # noqa: BLE001, S110 - a fenced or fatal producer cannot abort; the broker will
            pass

    def close(self) -> None:
        self._consumer.close()


class Writers:
    """The task's writers, one per input partition it meets (one, unless a task holds several partitions)."""

    def __init__(self, config: TransactionConfig, open_writer: Callable[..., PartitionWriter] = PartitionWriter):
        self._config, self._open = config, open_writer
        self._writers: dict[tuple[str, int], PartitionWriter] = {}

    def _writer(self, topic: str, partition: int) -> PartitionWriter:
        if (topic, partition) not in self._writers:
            self._writers[topic, partition] = self._open(self._config, topic, partition)
        return self._writers[topic, partition]

    def unwritten(self, rows: Iterable[Row]) -> list[Row]:
        """The rows whose records are not written yet (a replayed batch skips what a committed transaction has)."""
        return [r for r in rows if self._writer(r.source.topic, r.source.partition).unwritten(r.source.offset)]

    def write(self, rows: Sequence[Row], records: Sequence[Annotated]) -> None:
        """One transaction per partition for these rows' records (in row order, as annotate_rows returns them)."""
        by_partition: dict[tuple[str, int], list[tuple[int, Annotated]]] = {}
        for row, record in zip(rows, records, strict=True):
            by_partition.setdefault((row.source.topic, row.source.partition), []).append((row.source.offset, record))
        for (topic, partition), pairs in by_partition.items():
            self._writer(topic, partition).write(pairs)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
