"""The streaming query: Kafka source -> the shared transform -> one Kafka sink that routes results and dead
letters."""

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter

from app.kafka_options import spark_sink_options, spark_source_options
from app.settings import Settings
from app.transform import OBSERVATION, RecordBudget, annotate, batch_metrics, inference_config
from app.udfs import InferenceConfig


def read_source(spark: SparkSession, s: Settings, min_partitions: int) -> DataFrame:
    reader = spark.readStream.format("kafka").options(**spark_source_options(s))
    reader = (
        reader.option("subscribe", s.input_topic)
        .option("startingOffsets", s.starting_offsets)
        .option("failOnDataLoss", str(s.fail_on_data_loss).lower())
        .option("includeHeaders", "false")
    )
    if s.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(s.max_offsets_per_trigger))
    if min_partitions > 1:
        # Split offset ranges so a topic with fewer partitions than cores still keeps every core busy.
        reader = reader.option("minPartitions", str(min_partitions))
    return reader.load()


def transform(raw: DataFrame, config: InferenceConfig, records: RecordBudget, result_topic: str,
              dead_letter_topic: str, quarantined: Mapping[str, str] | None = None) -> DataFrame:
    """Rows of (topic, key, value) for the Kafka sink, one per input message, plus observed batch metrics."""
    annotated = annotate(raw, config, records, quarantined)
    ok = F.col("ok")
    routed = annotated.select(
        F.when(ok, F.lit(result_topic)).otherwise(F.lit(dead_letter_topic)).alias("topic"),
        # Results are keyed by uuid (its size counts in the result's budget); dead letters keep the original key,
        # cut to its share of the record (the full size is in key_bytes).
        F.when(ok, F.col("r.uuid").cast("binary"))
        .otherwise(F.substring(F.col("key"), 1, records.key_bytes)).alias("key"),
        F.when(ok, F.to_json("result")).otherwise(F.to_json("dead_letter")).alias("value"),
        F.col("r"),
    )
    observed = routed.observe(OBSERVATION, *batch_metrics(F.col("r")))
    return observed.select("topic", "key", "value")


def build_query(spark: SparkSession, s: Settings, min_partitions: int, records: RecordBudget,
                quarantined: Mapping[str, str] | None = None) -> DataStreamWriter:
    """The complete, not yet started, streaming write."""
    rows = transform(read_source(spark, s, min_partitions), inference_config(s, records), records, s.result_topic,
                     s.dead_letter_topic, quarantined)
    writer = (
        rows.writeStream.format("kafka")
        .options(**spark_sink_options(s))
        .option("checkpointLocation", s.checkpoint_location)
        .queryName(s.query_name)
        .outputMode("append")
    )
    if s.trigger_interval == "available-now":
        return writer.trigger(availableNow=True)
    if s.async_progress_tracking:
        # The offset and commit logs are written beside the next batch instead of before and after each one
        # (~0.1-0.3 s per batch). After a crash more batches may be replayed: still at-least-once, as the sink is.
        writer = writer.option("asyncProgressTrackingEnabled", "true")
    return writer.trigger(processingTime=s.trigger_interval)
