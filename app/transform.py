"""The transform the stream and the batch job share: Kafka-shaped rows in, each row's result and dead-letter
records out, sized to fit one Kafka record, plus the per-batch metrics observed in the same pass."""

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from app.isolation import Budget
from app.messages import Limits, Reason
from app.schemas import DEAD_LETTER_SCHEMA, RESULT_SCHEMA, SOURCE_SCHEMA
from app.settings import Settings
from app.udfs import InferenceConfig, apply_ner

OBSERVATION = "ner"
# Kafka's default record limit (the producer's max.request.size and a topic's max.message.bytes): the size the
# job assumes when it has no broker to ask (batch mode); the stream reads the real limits at start.
DEFAULT_RECORD_BYTES = 1024 * 1024
# Room in a record for what is not key or payload: Kafka's record and batch headers, a dead letter's reason,
# detail (at most 500 characters, up to 6 bytes each once JSON-escaped), timestamps and source.
RECORD_OVERHEAD_BYTES = 8 * 1024


@dataclass(frozen=True)
class RecordBudget:
    """How much of one input message a dead letter keeps so that key + value fit in one Kafka record."""

    record_bytes: int

    @property
    def max_result_bytes(self) -> int:
        return self.record_bytes - RECORD_OVERHEAD_BYTES

    @property
    def key_bytes(self) -> int:
        return self.record_bytes // 16

    @property
    def value_bytes(self) -> int:
        # base64 turns 3 bytes into 4: keep a multiple of 3 so the kept prefix decodes on its own.
        return (self.record_bytes - RECORD_OVERHEAD_BYTES - self.key_bytes) * 3 // 4 // 3 * 3


def inference_config(s: Settings, budget: RecordBudget) -> InferenceConfig:
    return InferenceConfig(
        model=s.spacy_model,
        keep_components=s.spacy_keep_components,
        nlp_batch_size=s.nlp_batch_size,
        limits=Limits(max_text_length=s.max_text_length, supported_langs=frozenset(s.supported_langs),
                      max_result_bytes=budget.max_result_bytes),
        nlp_batch_max_chars=s.nlp_batch_max_chars,
        budget=None if s.inference_isolation == "inline" else Budget(
            seconds=s.message_timeout_seconds, memory_bytes=s.inference_memory_mb * 2**20),
    )


def build_struct(schema: StructType, columns: dict[str, Column]) -> Column:
    """A struct with exactly the schema's fields, in order and cast to their types: JSON built from the schema."""
    names = [f.name for f in schema.fields]
    if set(names) != set(columns):
        msg = f"columns {sorted(columns)} do not match schema fields {names}"
        raise ValueError(msg)
    return F.struct(*[columns[f.name].cast(f.dataType).alias(f.name) for f in schema.fields])


def annotate(raw: DataFrame, config: InferenceConfig, records: RecordBudget,
             quarantined: Mapping[str, str] | None = None) -> DataFrame:
    """The transform both modes share: one row per input row with `ok`, its `result` and `dead_letter` records.

    Input rows are Kafka-shaped (key, value, topic, partition, offset, timestamp): the stream reads them from
    Kafka, the batch job builds them from files. `r` keeps the raw inference struct for metrics. `quarantined`
    maps "topic/partition/offset" to the failure that made it poison: those values never reach Python.
    """
    value = F.col("value")
    if not quarantined:
        r = apply_ner(value, config)
    else:
        entries = F.create_map(*[F.lit(x) for item in sorted(quarantined.items()) for x in item])
        poison = F.try_element_at(entries, F.concat_ws("/", "topic", "partition", "offset"))
        r = apply_ner(F.when(poison.isNull(), value), config)
        r = (r.withField("reason", F.when(poison.isNull(), r.getField("reason")).otherwise(F.lit(str(Reason.POISON))))
             .withField("detail", F.coalesce(poison, r.getField("detail"))))
    inferred = raw.select("key", "value", "topic", "partition", "offset", "timestamp", r.alias("r"))
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
        "key_bytes": F.length(F.col("key")),
        "value_base64": F.base64(F.substring(value, 1, records.value_bytes)),
        "value_bytes": F.length(value),
        "source": source, "received_at": F.col("timestamp"), "failed_at": processed_at,
    })
    return inferred.select(F.col("key"), F.col("r.reason").isNull().alias("ok"), result.alias("result"),
                           dead_letter.alias("dead_letter"), "r")


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
