"""Entry point: wire settings, Spark, the streaming query and the side workers; no logic lives here.

`python -m app.run` or `spark-submit app/run.py`. Exit code 0 on a clean stop, 1 if the query failed,
2 on bad settings.
"""

import argparse
import logging
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import fields

if __package__ in (None, ""):  # spark-submit app/run.py: make the `app` package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.pipeline import build_query
from app.utils import logging_setup
from app.utils.kafka_options import kafka_python_config
from app.utils.lifecycle import ProgressListener, StopSignal, wait_for
from app.utils.metrics import AppMetrics
from app.utils.metrics_push import MetricsPusher, SparkMetricsCollector, pushgateway, spark_metrics_urls
from app.utils.offsets import OffsetsCommitter, kafka_commit, snapshot_from_progress
from app.utils.settings import Settings, SettingsError
from app.utils.spark_session import get_or_create

log = logging.getLogger("app.run")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    lines = [f"  {f.metadata['env']:<34} {f.name} (default {f.default!r}) {f.metadata['doc']}"
             for f in fields(Settings)]
    parser = argparse.ArgumentParser(
        prog="app.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings [env: VAR] (file app/config/<APP_ENV>.toml, overridden by the environment):\n"
        + "\n".join(lines))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parse_args(argv)
    try:
        settings = Settings.load(os.environ)
    except SettingsError as exc:
        print(f"bad settings: {exc}", file=sys.stderr)
        return 2
    logging_setup.configure(settings.log_level)
    log.info("effective settings: %s", settings.describe())
    metrics = AppMetrics()
    committer = OffsetsCommitter(
        settings.consumer_group, kafka_commit(kafka_python_config(settings)),
        settings.offsets_commit_interval_seconds,
        on_commit=metrics.offset_commits.inc, on_failure=metrics.offset_commit_failures.inc)

    def on_progress(progress: dict) -> None:
        committer.offer(snapshot_from_progress(progress))
        metrics.observe_progress(progress, time.time())

    with ExitStack() as stack:
        spark = get_or_create(settings)
        stack.callback(spark.stop)
        workers = [committer]
        if settings.pushgateway_url:
            metrics.registry.register(SparkMetricsCollector(lambda: spark_metrics_urls(spark.sparkContext.uiWebUrl)))
            push = pushgateway(settings.pushgateway_url, settings.metrics_job, settings.metrics_instance,
                               settings.pushgateway_username, settings.pushgateway_password)
            workers.append(MetricsPusher(metrics.registry, push, settings.metrics_push_interval_seconds,
                                         on_failure=metrics.push_failures.inc))
        for worker in reversed(workers):  # unwinds as: final offset commit, final push, then Spark
            stack.enter_context(worker)
        spark.streams.addListener(ProgressListener(settings.query_name, on_progress))
        min_partitions = settings.min_partitions or spark.sparkContext.defaultParallelism
        query = build_query(spark, settings, min_partitions).start()
        log.info("query %s running: %s -> %s / %s", settings.query_name, settings.input_topic,
                 settings.result_topic, settings.dead_letter_topic)
        stop = StopSignal().install()
        try:
            wait_for(query, stop, lambda: [w.raise_for_error() for w in workers])
        except Exception:
            log.exception("query %s failed", settings.query_name)
            if query.isActive:
                query.stop()
            return 1
        finally:
            if query.lastProgress is not None:
                committer.offer(snapshot_from_progress(_as_dict(query.lastProgress)))
        if query.exception() is not None:
            log.error("query %s failed: %s", settings.query_name, query.exception())
            return 1
    log.info("stopped cleanly")
    return 0


def _as_dict(progress: object) -> dict:
    import json

    return json.loads(progress.json) if hasattr(progress, "json") else dict(progress)  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main())
