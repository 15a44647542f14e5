"""The transform the stream and the batch job share: Kafka-shaped rows in, one finished record per row out
(a result or a dead letter, built and sized in Python), plus the per-batch metrics observed in the same pass."""

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from app.contract import Limits, RecordBudget
from app.inference.config import InferenceConfig
from app.inference.isolation import Budget
from app.kafka.options import librdkafka_config
from app.kafka.transactions import TransactionConfig
from app.schemas import ANNOTATED_SCHEMA, HEADERS_SCHEMA
from app.setting_lists import parse_models
from app.settings import Settings
from app.udfs import make_annotator


def inference_config(s: Settings, records: RecordBudget) -> InferenceConfig:
    models = parse_models(s.inference.models)
    return InferenceConfig(
        models=tuple(models.items()),
        keep_components=s.inference.keep_components,
        nlp_batch_size=s.inference.nlp_batch_size,
        limits=Limits(
            max_text_length=s.inference.max_text_length,
            supported_langs=frozenset(models),
            passthrough_fields=s.kafka.passthrough_fields,
        ),
        records=records,
        lang_min_confidence=s.inference.lang_min_confidence,
        nlp_batch_max_chars=s.inference.nlp_batch_max_chars,
        vocab_warmup_chars=s.inference.vocab_warmup_chars,
        tokenizer_run_limit=s.inference.tokenizer_run_limit,
        result_key=s.kafka.result_key,
        passthrough_headers=s.kafka.passthrough_headers,
        budget=None
        if s.inference.isolation == "inline"
        else Budget(seconds=s.inference.message_timeout_seconds, memory_bytes=s.inference.memory_mb * 2**20),
    )


def transaction_config(s: Settings, records: RecordBudget) -> TransactionConfig:
    """What the Python workers need to write exactly once (OUTPUT_GUARANTEE=exactly-once)."""
    return TransactionConfig(
        client=tuple(librdkafka_config(s).items()),
        group=s.kafka.consumer_group,
        result_topic=s.kafka.result_topic,
        dead_letter_topic=s.kafka.dead_letter_topic,
        timeout_ms=s.kafka.transaction_timeout_ms,
        record_bytes=records.record_bytes,
    )


def annotate(
    raw: DataFrame,
    config: InferenceConfig,
    quarantined: Mapping[str, str] | None = None,
    transactions: TransactionConfig | None = None,
) -> DataFrame:
    """One ANNOTATED_SCHEMA row per input row: `ok`, the record's `key` and `value` bytes, and metrics columns.

    Input rows are Kafka-shaped (key, value, topic, partition, offset, timestamp, and headers when they have
    them): the stream reads them from Kafka, the batch job builds them from files. `quarantined` maps
    "topic/partition/offset" to the failure that made it poison: those rows become `poison` dead letters without
    being parsed or inferred. With `transactions` the Python workers write the records themselves (exactly-once)
    and the rows keep only what the metrics read.
    """
    if quarantined:
        entries = F.create_map(*[F.lit(x) for item in sorted(quarantined.items()) for x in item])
        poison = F.try_element_at(entries, F.concat_ws("/", "topic", "partition", "offset"))
    else:
        poison = F.lit(None).cast("string")
    headers = F.col("headers") if "headers" in raw.columns else F.lit(None).cast(HEADERS_SCHEMA)
    rows = raw.select(
        "key", "value", "topic", "partition", "offset", "timestamp", poison.alias("poison"), headers.alias("headers")
    )
    return rows.mapInArrow(make_annotator(config, transactions), ANNOTATED_SCHEMA)


def batch_metrics() -> list[Column]:
    """Per-micro-batch aggregates over annotated rows, computed in the same pass (reported in the progress): the
    Python workers' per-language counts and timings, one JSON per Arrow batch."""
    return [F.count(F.lit(1)).alias("messages_in"), F.collect_list("stats").alias("stats")]
