"""The last line of defence: when a micro-batch fails for a reason per-message isolation cannot catch (a Python
worker killed from outside its inference process, a bug outside the per-message boundary), find the offsets that
fail it, remember them as poison, and let the stream go on without them instead of restarting into the same
failure forever.

The failed batch's offset range comes from the checkpoint (its offsets log without a commit). The range is re-run
in batch mode, in pieces, through the same transform into Spark's `noop` sink (nothing is written): a piece that
fails is split until single offsets remain. Those offsets are stored beside the checkpoint; the restarted stream
routes them to the dead-letter topic as `poison` without letting their bytes reach Python.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

log = logging.getLogger(__name__)
Probe = Callable[[str, int, int, int], str | None]  # (topic, partition, start, end) -> failure or None
MAX_DETAIL_CHARS = 500
# A failed range is first re-run in pieces of this many offsets, then a failing piece is halved.
PIECE_OFFSETS = 500


@dataclass(frozen=True)
class OffsetRange:
    topic: str
    partition: int
    start: int  # inclusive
    end: int  # exclusive

    def split(self, size: int) -> list[OffsetRange]:
        return [
            OffsetRange(self.topic, self.partition, s, min(s + size, self.end))
            for s in range(self.start, self.end, size)
        ]


@dataclass(frozen=True)
class Poison:
    topic: str
    partition: int
    offset: int
    failure: str

    @property
    def key(self) -> str:
        """How the transform looks it up: "topic/partition/offset"."""
        return f"{self.topic}/{self.partition}/{self.offset}"


# A failure that every piece reproduces (the broker is gone, a setting is wrong) is not one message's content:
# after this many probes the search gives up instead of re-running the range offset by offset.
MAX_PROBES = 300


def find_poison(
    ranges: list[OffsetRange], probe: Probe, piece: int = PIECE_OFFSETS, max_probes: int = MAX_PROBES
) -> list[Poison]:
    """Every single offset whose piece fails on its own: pieces first, then halves of each failing piece.
    Nothing when the search takes over max_probes probes."""
    found: list[Poison] = []
    todo = [p for r in ranges for p in r.split(piece)]
    for _ in range(max_probes):
        if not todo:
            return found
        current = todo.pop(0)
        failure = probe(current.topic, current.partition, current.start, current.end)
        if failure is None:
            continue
        if current.end - current.start == 1:
            log.error(
                "poison: %s[%d]@%d fails its batch: %s", current.topic, current.partition, current.start, failure[:300]
            )
            found.append(Poison(current.topic, current.partition, current.start, failure[:MAX_DETAIL_CHARS]))
            continue
        half = (current.end - current.start + 1) // 2
        todo[:0] = current.split(half)
    log.error("the failure is everywhere in the range (over %d probes): not one message's content", max_probes)
    return []


def _source_offsets(text: str) -> dict[str, dict[str, int]]:
    """The Kafka source's offsets JSON from an offsets-log or initial-offsets file (the last JSON line)."""
    lines = [line for line in text.replace("\x00", "").splitlines() if line.strip().startswith("{")]
    return json.loads(lines[-1])


def _exists(spark: SparkSession, path: str) -> bool:
    """Ask Hadoop's file system for the path, so that reading a missing one does not log a stack trace."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    if jvm is None:  # Spark Connect: no JVM to ask; the readers' own errors say it
        return True
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return bool(hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()).exists(hadoop_path))  # type: ignore


def _log_files(spark: SparkSession, directory: str) -> dict[int, str]:
    if not _exists(spark, directory):
        return {}
    try:
        frame = spark.read.text(directory, wholetext=True).select("value", F.col("_metadata.file_name"))
        rows = frame.collect()
    except Exception:  # noqa: BLE001 - no such directory yet
        return {}
    return {int(r.file_name): r.value for r in rows if r.file_name.isdigit()}


def failed_ranges(spark: SparkSession, checkpoint: str) -> list[OffsetRange]:
    """The offsets of the newest batch that was planned but never committed, per partition."""
    root = checkpoint.rstrip("/")
    offsets = _log_files(spark, f"{root}/offsets")
    commits = _log_files(spark, f"{root}/commits")
    pending = sorted(set(offsets) - set(commits))
    if not pending:
        return []
    batch = pending[-1]
    if batch - 1 in offsets:
        start = _source_offsets(offsets[batch - 1])
    else:
        initial = _log_files(spark, f"{root}/sources/0")
        start = _source_offsets(initial[0]) if 0 in initial else {}
    end = _source_offsets(offsets[batch])
    ranges = []
    for topic, partitions in end.items():
        for partition, stop in partitions.items():
            begin = max(int(start.get(topic, {}).get(partition, 0)), 0)
            if int(stop) > begin:
                ranges.append(OffsetRange(topic, int(partition), begin, int(stop)))
    log.warning(
        "batch %d failed over %s", batch, ", ".join(f"{r.topic}[{r.partition}] {r.start}-{r.end}" for r in ranges)
    )
    return ranges


def failure(frame: DataFrame) -> str | None:
    """Run a DataFrame to the end into Spark's noop sink (nothing is written): the failure text, or None."""
    try:
        frame.write.format("noop").mode("overwrite").save()
    except Exception as exc:  # noqa: BLE001 - the failure is what we are looking for
        return f"{type(exc).__name__}: {exc}"
    return None


def spark_probe(
    spark: SparkSession, kafka_options: Mapping[str, str], transform: Callable[[DataFrame], DataFrame]
) -> Probe:
    """Run the transform over one offset range in batch mode into the noop sink; the failure text, or None."""

    def probe(topic: str, partition: int, start: int, end: int) -> str | None:
        raw = (
            spark.read.format("kafka")
            .options(**kafka_options)
            .option("assign", json.dumps({topic: [partition]}))
            .option("startingOffsets", json.dumps({topic: {str(partition): start}}))
            .option("endingOffsets", json.dumps({topic: {str(partition): end}}))
            .option("failOnDataLoss", "false")
            .option("includeHeaders", "true")  # as the stream reads them: a record's headers are part of it
            .load()
        )
        return failure(transform(raw))

    return probe


class QuarantineStore:
    """Poison offsets, kept as JSON files beside the checkpoint (`<checkpoint>/quarantine`), on any file system
    Spark can write to (local, DBFS, a Unity Catalog volume, S3)."""

    def __init__(self, spark: SparkSession, checkpoint: str) -> None:
        self._spark = spark
        self._path = f"{checkpoint.rstrip('/')}/quarantine"

    def load(self) -> dict[str, str]:
        """{"topic/partition/offset": failure} for the transform."""
        if not _exists(self._spark, self._path):
            return {}
        try:
            rows = (
                self._spark.read.schema("topic string, partition int, offset long, failure string")
                .json(self._path)
                .collect()
            )
        except Exception:  # noqa: BLE001 - nothing quarantined yet
            return {}
        return {Poison(r.topic, r.partition, r.offset, r.failure).key: r.failure for r in rows}

    def add(self, poison: list[Poison]) -> None:
        rows = [(p.topic, p.partition, p.offset, p.failure) for p in poison]
        frame = self._spark.createDataFrame(rows, "topic string, partition int, offset long, failure string")
        frame.coalesce(1).write.mode("append").json(self._path)
