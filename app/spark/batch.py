"""Batch inference: JSON Lines or Parquet files in, the stream's own transform, result and dead-letter files out.

Each input row becomes a Kafka-shaped row (value = the JSON line's bytes, topic = the file, offset = the row's
index in it), so validation, inference and the output records are exactly the stream's (`transform.annotate`).
"""

import logging
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from app.contract import DEFAULT_RECORD_BYTES, RecordBudget
from app.schemas import DEAD_LETTER_FILE_SCHEMA, DEAD_LETTER_HEADER_PREFIX, RESULT_SCHEMA
from app.settings import Settings
from app.spark.session import session
from app.spark.transform import annotate, inference_config

log = logging.getLogger(__name__)
FORMATS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".parquet": "parquet"}


@dataclass(frozen=True)
class BatchSummary:
    """What one batch run did: counts for the log and for tests."""

    rows_in: int
    results_out: int
    dead_letters: dict[str, int]


def summarize(annotated: DataFrame) -> BatchSummary:
    """Rows in, results out and dead letters by reason of annotated rows (one Spark job)."""
    counts = {row["reason"]: row["count"] for row in annotated.groupBy("reason").count().collect()}
    results = counts.pop(None, 0)
    return BatchSummary(rows_in=results + sum(counts.values()), results_out=results, dead_letters=counts)


def input_format(path: str, explicit: str | None = None) -> str:
    """json or parquet: the explicit choice, else the path's extension (a directory needs the explicit one)."""
    if explicit:
        return "json" if explicit in ("json", "jsonl") else explicit
    for extension, fmt in FORMATS.items():
        if path.rstrip("/").lower().endswith(extension):
            return fmt
    msg = f"cannot tell the format of {path!r} from its extension ({', '.join(FORMATS)}): pass --input-format"
    raise ValueError(msg)


def read_rows(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    """Kafka-shaped rows (key, value, topic, partition, offset, timestamp): topic is the file, offset its row."""
    if fmt == "parquet":
        frame = spark.read.parquet(path)
        # A row is the JSON object of its columns, so the stream's validation applies unchanged (nulls are left
        # out, so a null text is `missing_text`, as in a JSON line without one).
        rows = frame.select(
            F.to_json(F.struct(*frame.columns)).cast("binary").alias("value"),
            F.col("_metadata.row_index").alias("offset"),
            "_metadata",
        )
    else:
        # Text, not the JSON reader: a line that is not JSON (or not UTF-8) must reach validation byte for byte.
        lines = spark.read.text(path).select(
            F.col("value").cast("binary").alias("value"), "_metadata", F.monotonically_increasing_id().alias("_order")
        )
        # Ids increase with the line within a file (its splits keep their order), so a row number per file is the
        # 0-based line index. Blank lines (a trailing newline) are no records, but still count as lines.
        by_file = Window.partitionBy("_metadata.file_path").orderBy("_order")
        numbered = lines.withColumn("offset", F.row_number().over(by_file) - 1)
        rows = numbered.where(F.length(F.trim(F.col("value").cast("string"))) > 0)
    return rows.select(
        F.lit(None).cast("binary").alias("key"),
        "value",
        F.col("_metadata.file_path").alias("topic"),
        F.lit(0).alias("partition"),
        "offset",
        F.col("_metadata.file_modification_time").alias("timestamp"),
    )


def write(records: DataFrame, schema: StructType, path: str, fmt: str) -> None:
    """Records (their JSON `value`, exactly what the stream sends to Kafka) as JSON Lines, or as Parquet columns
    parsed back with the record's schema."""
    text = F.col("value").cast("string")
    if fmt == "parquet":
        records.select(F.from_json(text, schema).alias("r")).select("r.*").write.mode("overwrite").parquet(path)
    else:
        records.select(text.alias("value")).write.mode("overwrite").text(path)


def _context(name: str) -> Column:
    """A dead letter's context header as text (null when absent)."""
    found = F.filter("headers", lambda h: h["key"] == F.lit(DEAD_LETTER_HEADER_PREFIX + name))
    return F.get(found, 0)["value"].cast("string")


def write_dead_letters(annotated: DataFrame, path: str, fmt: str) -> None:
    """Dead letters as DEAD_LETTER_FILE_SCHEMA rows (files have no headers: the context becomes columns), JSON
    Lines (key and value in base64) or Parquet."""
    rows = annotated.where("not ok").select(
        _context("reason").alias("reason"),
        _context("detail").alias("detail"),
        F.struct(
            _context("topic").alias("topic"),
            _context("partition").cast("int").alias("partition"),
            _context("offset").cast("long").alias("offset"),
        ).alias("source"),
        F.timestamp_millis(_context("failed_at").cast("long")).alias("failed_at"),
        "key",
        "value",
    )
    assert rows.schema.fieldNames() == DEAD_LETTER_FILE_SCHEMA.fieldNames()
    writer = rows.write.mode("overwrite")
    writer.parquet(path) if fmt == "parquet" else writer.json(path)


def run_batch(
    spark: SparkSession,
    s: Settings,
    input_path: str,
    output_path: str,
    in_format: str | None = None,
    out_format: str | None = None,
) -> BatchSummary:
    """Annotate every row of `input_path`; results to `<output>/result`, rejected rows to `<output>/dead-letter`."""
    fmt = input_format(input_path, in_format)
    out_fmt = out_format or fmt
    partitions = s.kafka.min_partitions or spark.sparkContext.defaultParallelism
    # Round-robin first: one small file is one input split, and inference should use every core.
    rows = read_rows(spark, input_path, fmt).repartition(partitions)
    # Two outputs from one inference pass: keep the annotated rows rather than run spaCy twice.
    records = RecordBudget(DEFAULT_RECORD_BYTES)  # files have no record limit; the same cuts as Kafka's default
    annotated = annotate(rows, inference_config(s, records)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        write(annotated.where("ok"), RESULT_SCHEMA, f"{output_path.rstrip('/')}/result", out_fmt)
        write_dead_letters(annotated, f"{output_path.rstrip('/')}/dead-letter", out_fmt)
        summary = summarize(annotated)
    finally:
        annotated.unpersist()
    log.info(
        "batch %s -> %s: %d rows, %d results, dead letters %s",
        input_path,
        output_path,
        summary.rows_in,
        summary.results_out,
        summary.dead_letters or "none",
    )
    return summary


def main(s: Settings, input_path: str, output_path: str, in_format: str | None, out_format: str | None) -> int:
    """The batch job as run.py starts it: 0 when every row was written (dead letters included), 1 on failure."""
    with session(s) as spark:
        try:
            run_batch(spark, s, input_path, output_path, in_format, out_format)
        except Exception:
            log.exception("batch %s -> %s failed", input_path, output_path)
            return 1
    return 0
