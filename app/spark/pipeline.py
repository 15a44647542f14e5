"""The streaming query: Kafka source -> the shared transform -> one Kafka sink that routes results and dead
letters."""

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter

from app.contract import OBSERVATION, RecordBudget
from app.kafka.options import spark_sink_options, spark_source_options
from app.settings import Settings
from app.spark.transform import annotate, batch_metrics, inference_config, transaction_config


def subscription(s: Settings) -> dict[str, str]:
    """Which topics the source reads: a topic, a list, or a pattern (new matching topics join as they appear)."""
    if s.kafka.input_topic_pattern:
        return {"subscribePattern": s.kafka.input_topic_pattern}
    return {"subscribe": ",".join(s.kafka.input_topics)}


def starting_point(s: Settings) -> dict[str, str]:
    """Where a query without a checkpoint starts: STARTING_TIMESTAMP if set (a partition without a record that
    late starts at its end), else STARTING_OFFSETS. A restart always goes on from the checkpoint."""
    if s.kafka.starting_timestamp_ms is not None:
        return {"startingTimestamp": str(s.kafka.starting_timestamp_ms), "startingOffsetsByTimestampStrategy": "latest"}
    return {"startingOffsets": s.kafka.starting_offsets}


def task_split(s: Settings, cores: int) -> int:
    """minPartitions: MIN_PARTITIONS, or every core (0); never a split in exactly-once mode, where one
    transactional producer writes each input partition."""
    if s.kafka.exactly_once:
        return 1
    return s.kafka.min_partitions or cores


def read_source(spark: SparkSession, s: Settings, min_partitions: int) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .options(**spark_source_options(s))
        .options(**subscription(s))
        .options(**starting_point(s))
        .option("failOnDataLoss", str(s.kafka.fail_on_data_loss).lower())
        # Headers are read for the results (PASSTHROUGH_HEADERS) and kept in dead letters.
        .option("includeHeaders", "true")
    )
    if s.kafka.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(s.kafka.max_offsets_per_trigger))
    if min_partitions > 1:
        # Split offset ranges so a topic with fewer partitions than cores still keeps every core busy.
        reader = reader.option("minPartitions", str(min_partitions))
    return reader.load()


def route(annotated: DataFrame, result_topic: str, dead_letter_topic: str) -> DataFrame:
    """Rows of (topic, key, value, headers) for the Kafka sink, one per input message, plus observed batch
    metrics."""
    observed = annotated.observe(OBSERVATION, *batch_metrics())
    topic = F.when(F.col("ok"), F.lit(result_topic)).otherwise(F.lit(dead_letter_topic))
    return observed.select(topic.alias("topic"), "key", "value", "headers")


def build_query(
    spark: SparkSession,
    s: Settings,
    min_partitions: int,
    records: RecordBudget,
    quarantined: Mapping[str, str] | None = None,
) -> DataStreamWriter:
    """The complete, not yet started, streaming write: Spark's Kafka sink (at-least-once), or, in exactly-once
    mode, the Python workers' transactions with Spark's `noop` sink behind them for the observed metrics."""
    source = read_source(spark, s, min_partitions)
    if s.kafka.exactly_once:
        annotated = annotate(source, inference_config(s, records), quarantined, transaction_config(s, records))
        writer = annotated.observe(OBSERVATION, *batch_metrics()).select("ok").writeStream.format("noop")
    else:
        annotated = annotate(source, inference_config(s, records), quarantined)
        rows = route(annotated, s.kafka.result_topic, s.kafka.dead_letter_topic)
        writer = rows.writeStream.format("kafka").options(**spark_sink_options(s))
    writer = (
        writer.option("checkpointLocation", s.spark.checkpoint_location)
        .queryName(s.spark.query_name)
        .outputMode("append")
    )
    if s.spark.trigger_interval == "available-now":
        return writer.trigger(availableNow=True)
    if s.spark.async_progress_tracking:
        # The offset and commit logs are written beside the next batch instead of before and after each one
        # (less fixed cost per batch). After a crash more batches may be replayed: still at-least-once, as the sink is.
        writer = writer.option("asyncProgressTrackingEnabled", "true")
    return writer.trigger(processingTime=s.spark.trigger_interval)
