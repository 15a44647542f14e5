"""The streaming query: Kafka source -> NER UDF -> one Kafka sink that routes results and dead letters."""

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter
from pyspark.sql.types import StructType

from app.messages import Limits, Reason
from app.schemas import DEAD_LETTER_SCHEMA, RESULT_SCHEMA, SOURCE_SCHEMA
from app.udfs import InferenceConfig, apply_ner
from app.utils.kafka_options import spark_kafka_options, spark_source_options
from app.utils.settings import Settings

OBSERVATION = "ner"
# A dead letter must fit in one Kafka record (1 MiB by default) or its micro-batch fails on every restart: keep
# the first 512 KiB of the original value (~700 KB in base64) and its size; all of it stays in the input topic.
DEAD_LETTER_MAX_VALUE_BYTES = 512 * 1024


def inference_config(s: Settings) -> InferenceConfig:
    return InferenceConfig(
        model=s.spacy_model,
        keep_components=s.spacy_keep_components,
        nlp_batch_size=s.nlp_batch_size,
        limits=Limits(max_text_length=s.max_text_length, supported_langs=frozenset(s.supported_langs)),
    )


def build_struct(schema: StructType, columns: dict[str, Column]) -> Column:
    """A struct with exactly the schema's fields, in order and cast to their types: JSON built from the schema."""
    names = [f.name for f in schema.fields]
    if set(names) != set(columns):
        msg = f"columns {sorted(columns)} do not match schema fields {names}"
        raise ValueError(msg)
    return F.struct(*[columns[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


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


def annotate(raw: DataFrame, config: InferenceConfig) -> DataFrame:
    """The transform both modes share: one row per input row with `ok`, its `result` and `dead_letter` records.

    Input rows are Kafka-shaped (key, value, topic, partition, offset, timestamp): the stream reads them from
    Kafka, the batch job builds them from files. `r` keeps the raw inference struct for metrics.
    """
    inferred = raw.select("key", "value", "topic", "partition", "offset", "timestamp",
                          apply_ner(F.col("value"), config).alias("r"))
    source = build_struct(SOURCE_SCHEMA, {"topic": F.col("topic"), "partition": F.col("partition"),
                                          "offset": F.col("offset")})
    processed_at = F.expr("timestamp_millis(r.processed_at_ms)")
    result = build_struct(RESULT_SCHEMA, {
        "uuid": F.col("r.uuid"), "lang": F.col("r.lang"), "entities": F.col("r.entities"),
        "model": F.struct(F.col("r.model_name").alias("name"), F.col("r.model_version").alias("version")),
        "source": source, "received_at": F.col("timestamp"), "processed_at": processed_at,
    })
    dead_letter = build_struct(DEAD_LETTER_SCHEMA, {
        "reason": F.col("r.reason"), "detail": F.col("r.detail"),
        "value_base64": F.base64(F.substring(F.col("value"), 1, DEAD_LETTER_MAX_VALUE_BYTES)),
        "value_bytes": F.length(F.col("value")),
        "source": source, "received_at": F.col("timestamp"), "failed_at": processed_at,
    })
    return inferred.select("key", F.col("r.reason").isNull().alias("ok"), result.alias("result"),
                           dead_letter.alias("dead_letter"), "r")


def transform(raw: DataFrame, config: InferenceConfig, result_topic: str, dead_letter_topic: str) -> DataFrame:
    """Rows of (topic, key, value) for the Kafka sink, one per input message, plus observed batch metrics."""
    annotated = annotate(raw, config)
    ok = F.col("ok")
    routed = annotated.select(
        F.when(ok, F.lit(result_topic)).otherwise(F.lit(dead_letter_topic)).alias("topic"),
        # Results are keyed by uuid so consumers can deduplicate; dead letters keep the original key.
        F.when(ok, F.col("r.uuid").cast("binary")).otherwise(F.col("key")).alias("key"),
        F.when(ok, F.to_json("result")).otherwise(F.to_json("dead_letter")).alias("value"),
        F.col("r"),
    )
    observed = routed.observe(OBSERVATION, *batch_metrics(F.col("r")))
    return observed.select("topic", "key", "value")


def batch_metrics(r: Column) -> list[Column]:
    """Per-micro-batch aggregates computed in the same pass (reported in the query progress)."""
    ok = r.reason.isNull()
    per_reason = [F.sum(F.when(r.reason == reason.value, 1).otherwise(0)).alias(f"dead_letters_{reason.value}")
                  for reason in Reason]
    return [
        F.count(F.lit(1)).alias("messages_in"),
        F.sum(F.when(ok, 1).otherwise(0)).alias("results_out"),
        F.sum(F.when(ok, F.size(r.entities)).otherwise(0)).alias("entities"),
        F.max(r.model_load_seconds).alias("model_load_seconds"),
        F.collect_list(r.batch_inference_seconds).alias("inference_seconds"),
        *per_reason,
    ]


def build_query(spark: SparkSession, s: Settings, min_partitions: int) -> DataStreamWriter:
    """The complete, not yet started, streaming write."""
    rows = transform(read_source(spark, s, min_partitions), inference_config(s), s.result_topic,
                     s.dead_letter_topic)
    writer = (
        rows.writeStream.format("kafka")
        .options(**spark_kafka_options(s))
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
