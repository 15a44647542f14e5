"""Runs the streaming query until it stops cleanly; a failed micro-batch leads to the quarantine, not a crash loop.

A failure that the quarantine traces to single offsets is handled in this process: those offsets become `poison`
dead letters and the query starts again from its checkpoint at full speed. A failure it cannot trace (the whole
range succeeds when re-run, a broker outage, a bad setting) ends the job with exit code 1, as before.
"""

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from app.contract import RecordBudget
from app.kafka.options import spark_source_options
from app.settings import Settings
from app.shutdown import StopSignal, wait_for
from app.spark.quarantine import QuarantineStore, failed_ranges, failure, find_poison, spark_probe
from app.spark.transform import annotate, inference_config

log = logging.getLogger(__name__)
StartQuery = Callable[[Mapping[str, str]], StreamingQuery]
# Each round quarantines at least one new offset; a job that needs more rounds than this in one run has a
# failure that is not about single messages.
MAX_ROUNDS = 20


def supervise(
    spark: SparkSession,
    s: Settings,
    records: RecordBudget,
    start: StartQuery,
    stop: StopSignal,
    check: Callable[[], None],
    on_end: Callable[[StreamingQuery], None],
) -> int:
    """0 after a clean stop (or the end of an available-now run), 1 after a failure the quarantine cannot cure."""
    store = QuarantineStore(spark, s.spark.checkpoint_location)
    for _ in range(MAX_ROUNDS):
        if stop.requested.is_set():
            return 0
        quarantined = store.load()
        query = start(quarantined)
        log.info(
            "query %s running: %s -> %s / %s (%d offsets quarantined)",
            s.spark.query_name,
            s.kafka.input_description,
            s.kafka.result_topic,
            s.kafka.dead_letter_topic,
            len(quarantined),
        )
        try:
            wait_for(query, stop, check, s.spark.stop_timeout_seconds)
        except StreamingQueryException as exc:
            log.error("query %s failed: %s", s.spark.query_name, str(exc)[:2000])
        finally:
            on_end(query)
        if query.exception() is None:
            return 0
        if not s.spark.quarantine or stop.requested.is_set():
            return 1
        if not _quarantine(spark, s, records, store, quarantined):
            return 1
    log.error("query %s failed %d times in a row; giving up", s.spark.query_name, MAX_ROUNDS)
    return 1


def _quarantine(
    spark: SparkSession, s: Settings, records: RecordBudget, store: QuarantineStore, quarantined: Mapping[str, str]
) -> bool:
    """Find the offsets that fail the last batch on their own and store them; False if there are none."""
    ranges = failed_ranges(spark, s.spark.checkpoint_location)
    if not ranges:
        log.error("no uncommitted batch in the checkpoint: the failure is not in the input")
        return False
    config = inference_config(s, records)

    def transform(raw: DataFrame) -> DataFrame:
        return annotate(raw, config, quarantined)

    if (broken := canary(spark, transform, config.models[0][0])) is not None:
        log.error("the transform fails on a known-good message, so the failure is not in the input: %s", broken[:2000])
        return False
    poison = [
        p
        for p in find_poison(ranges, spark_probe(spark, spark_source_options(s), transform))
        if p.key not in quarantined
    ]
    if not poison:
        log.error("the failed batch succeeds when re-run in pieces: the failure is not one message's content")
        return False
    store.add(poison)
    log.warning("quarantined %d offset(s): %s; restarting the query", len(poison), ", ".join(p.key for p in poison))
    return True


def canary(spark: SparkSession, transform: Callable[[DataFrame], DataFrame], lang: str) -> str | None:
    """Run one known-good message through the transform: a failure here is the environment's (a model that does
    not load, a broken worker), and quarantining offsets would hide it."""
    value = json.dumps({"uuid": "canary", "text": "Ada Lovelace lived in London.", "lang": lang}).encode()
    row = spark.createDataFrame(
        [(None, value, "canary", 0, 0, datetime.now(UTC))],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp",
    )
    return failure(transform(row))
