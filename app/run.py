"""Entry point: wire settings, Spark, the streaming query and the side workers; no logic lives here.

`python -m app.run` or `spark-submit app/run.py` streams; `--mode batch --input PATH --output DIR` annotates files
with the same transform (app/spark/batch.py); `--mode backfill --since TIME [--until TIME]` runs it over a Kafka time
range into the output topics (app/spark/backfill.py). Exit code 0 on a clean stop, 1 if the query or batch failed,
2 on bad settings or arguments.
"""

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack

if __package__ in (None, ""):  # spark-submit app/run.py: make the `app` package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql.streaming import StreamingQuery

from app import logs
from app.inference.models import missing
from app.inference.proof import unproven
from app.kafka.options import kafka_python_config
from app.kafka.preflight import record_budget
from app.setting_lists import parse_models, parse_timestamp_ms
from app.settings import Settings, SettingsError
from app.settings_fields import walk
from app.shutdown import StopSignal
from app.spark import backfill, batch
from app.spark.pipeline import build_query, task_split
from app.spark.session import session
from app.spark.supervisor import supervise
from app.workers.metrics import AppMetrics
from app.workers.metrics_push import MetricsPusher, SparkMetricsCollector, pushgateway, spark_metrics_urls
from app.workers.offsets import OffsetsCommitter, kafka_commit, snapshot_from_progress
from app.workers.progress import ProgressPoller
from app.workers.worker import Worker, raise_for_errors

log = logging.getLogger("app.run")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    lines = [
        f"  {f.metadata['env']:<34} {path} (default {f.default!r}) {f.metadata['doc']}" for path, f in walk(Settings)
    ]
    parser = argparse.ArgumentParser(
        prog="app.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings [env: VAR] (file app/config/<APP_ENV>.toml, overridden by the environment):\n"
        + "\n".join(lines),
    )
    parser.add_argument("--mode", choices=("stream", "batch", "backfill"), default="stream", help="default: stream")
    parser.add_argument("--input", help="batch: JSON Lines or Parquet file(s), local or s3a://")
    parser.add_argument("--output", help="batch: directory for result/ and dead-letter/")
    parser.add_argument("--input-format", choices=("json", "jsonl", "parquet"), help="batch: default from --input")
    parser.add_argument("--output-format", choices=("json", "parquet"), help="batch: default the input's format")
    parser.add_argument("--since", help="backfill: from this time (ISO 8601 with zone, or epoch ms)")
    parser.add_argument("--until", help="backfill: up to this time, exclusive (default: the topics' end)")
    args = parser.parse_args(argv)
    if args.mode == "backfill":
        if not args.since:
            parser.error("--mode backfill needs --since")
        try:
            args.since_ms = parse_timestamp_ms(args.since)
            args.until_ms = parse_timestamp_ms(args.until) if args.until else None
        except ValueError as exc:
            parser.error(f"--since/--until: {exc}")
        if args.until_ms is not None and args.until_ms <= args.since_ms:
            parser.error("--until must be after --since")
    if args.mode == "batch":
        if not (args.input and args.output):
            parser.error("--mode batch needs --input and --output")
        try:
            batch.input_format(args.input, args.input_format)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        print(f"bad settings: {exc}", file=sys.stderr)
        return 2
    if absent := missing(parse_models(settings.inference.models)):
        print(
            f"bad settings: SPACY_MODELS names models that are not installed: {', '.join(absent)} "
            "(pip install the package, or give the path of a model directory)",
            file=sys.stderr,
        )
        return 2
    if broken := unproven(parse_models(settings.inference.models), settings.inference.keep_components):
        print(f"bad settings: SPACY_MODELS names models that cannot annotate: {'; '.join(broken)}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    log.info("effective settings: %s", settings.describe())
    if args.mode == "batch":
        return batch.main(settings, args.input, args.output, args.input_format, args.output_format)
    if args.mode == "backfill":
        return backfill.main(settings, args.since_ms, args.until_ms)
    return stream(settings)


def stream(settings: Settings) -> int:
    """Run the streaming query with its side workers until it stops or fails for good."""
    stop = StopSignal().install()  # from the start: a SIGTERM while Spark starts is a clean stop too
    if (records := record_budget(settings)) is None:
        return 1
    metrics = AppMetrics(tuple(parse_models(settings.inference.models)), settings.kafka.consumer_group)
    committer = OffsetsCommitter(
        settings.kafka.consumer_group,
        kafka_commit(kafka_python_config(settings)),
        settings.kafka.offsets_commit_interval_seconds,
        on_commit=metrics.offset_commits.inc,
        on_failure=metrics.offset_commit_failures.inc,
    )

    def on_progress(progress: dict) -> None:
        committer.offer(snapshot_from_progress(progress))
        metrics.observe_progress(progress, time.time())

    poller = ProgressPoller(on_progress, settings.spark.progress_poll_interval_seconds)

    with ExitStack() as stack:
        spark = stack.enter_context(session(settings))
        stop.install()  # again: pyspark's SparkContext replaces the SIGINT handler with its own job canceller
        # Exactly-once commits the group's offsets in the workers' transactions: a committer would race them.
        workers: list[Worker] = [poller] if settings.kafka.exactly_once else [poller, committer]
        if settings.metrics.pushgateway_url:
            metrics.registry.register(SparkMetricsCollector(lambda: spark_metrics_urls(spark.sparkContext.uiWebUrl)))
            push = pushgateway(
                settings.metrics.pushgateway_url,
                settings.metrics.job,
                settings.metrics.instance,
                settings.metrics.pushgateway_username,
                settings.metrics.pushgateway_password,
            )
            workers.append(
                MetricsPusher(
                    metrics.registry, push, settings.metrics.push_interval_seconds, on_failure=metrics.push_failures.inc
                )
            )
        for worker in reversed(workers):  # unwinds as: last progress, final offset commit, final push, then Spark
            stack.enter_context(worker)
        min_partitions = task_split(settings, spark.sparkContext.defaultParallelism)

        def start(quarantined: Mapping[str, str]) -> StreamingQuery:
            query = build_query(spark, settings, min_partitions, records, quarantined).start()
            poller.watch(query)
            return query

        code = supervise(spark, settings, records, start, stop, lambda: raise_for_errors(workers), poller.finish)
        if code == 0:  # a stop on purpose: the final push (as the stack unwinds) says so, and nothing pages
            metrics.running.set(0)
    log.info("stopped cleanly" if code == 0 else "stopped after a failure")
    return code


if __name__ == "__main__":
    sys.exit(main())
