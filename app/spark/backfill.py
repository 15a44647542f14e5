"""Backfill: the stream's transform over a Kafka time range in one batch job, into the result and dead-letter
topics (`python -m app.run --mode backfill --since TIME [--until TIME]`).

It reads the input topics (INPUT_TOPIC or INPUT_TOPIC_PATTERN) from the first record at or after `since` up to the
first at or after `until` (or their end), and writes exactly what the stream would: results keyed by RESULT_KEY
(by default `source`, so a result the stream wrote already is replaced, not doubled, in a compacted topic) and dead
letters. It keeps no checkpoint and commits no consumer group: the stream's own progress is untouched.
"""

import logging

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from app.contract import RecordBudget
from app.kafka.options import spark_sink_options, spark_source_options
from app.kafka.preflight import record_budget
from app.settings import Settings
from app.spark.batch import BatchSummary, summarize
from app.spark.pipeline import subscription
from app.spark.session import session
from app.spark.transform import annotate, inference_config

log = logging.getLogger(__name__)


def read_range(spark: SparkSession, s: Settings, since_ms: int, until_ms: int | None) -> DataFrame:
    """The input records with a timestamp from `since_ms` (inclusive) up to `until_ms` (exclusive), by the offsets
    Kafka's time index gives for them; a partition without a record that late contributes nothing."""
    reader = (
        spark.read.format("kafka")
        .options(**spark_source_options(s))
        .options(**subscription(s))
        .option("startingTimestamp", str(since_ms))
        .option("startingOffsetsByTimestampStrategy", "latest")
        .option("includeHeaders", "true")
    )
    if until_ms is not None:
        reader = reader.option("endingTimestamp", str(until_ms))
    return reader.load()


def run_backfill(
    spark: SparkSession, s: Settings, records: RecordBudget, since_ms: int, until_ms: int | None
) -> BatchSummary:
    annotated = annotate(read_range(spark, s, since_ms, until_ms), inference_config(s, records))
    annotated = annotated.persist(StorageLevel.MEMORY_AND_DISK)  # one inference pass for the write and the counts
    try:
        topic = F.when(F.col("ok"), F.lit(s.kafka.result_topic)).otherwise(F.lit(s.kafka.dead_letter_topic))
        rows = annotated.select(topic.alias("topic"), "key", "value", "headers")
        rows.write.format("kafka").options(**spark_sink_options(s)).save()
        summary = summarize(annotated)
    finally:
        annotated.unpersist()
    log.info(
        "backfill of %s from %d to %s: %d records, %d results, dead letters %s",
        s.kafka.input_description,
        since_ms,
        until_ms if until_ms is not None else "the end",
        summary.rows_in,
        summary.results_out,
        summary.dead_letters or "none",
    )
    return summary


def main(s: Settings, since_ms: int, until_ms: int | None) -> int:
    """0 when every record of the range was written (dead letters included), 1 on failure."""
    if (records := record_budget(s)) is None:
        return 1
    with session(s) as spark:
        try:
            run_backfill(spark, s, records, since_ms, until_ms)
        except Exception:
            log.exception("backfill of %s failed", s.kafka.input_description)
            return 1
    return 0
