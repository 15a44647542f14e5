"""This service end to end: `python -m app.run` as a subprocess, configured only through its environment."""

import sys
from collections.abc import Mapping

# The service runs with the app's own defaults, the ones it ships with, so every guarantee stays on while it is
# measured (the quarantine included, which rules out ASYNC_PROGRESS_TRACKING). Overrides are the levers' business
# (bench/levers.py); what `make bench-levers` found best became the defaults (docs/benchmarks.md, "Levers").
BEST: dict[str, str] = {}


def command(
    bootstrap: str,
    topics,
    master: str = "local[2]",
    min_partitions: int = 0,
    overrides: Mapping[str, str | None] | None = None,
) -> tuple[list[str], dict[str, str | None]]:
    env = {
        "APP_ENV": "development",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INPUT_TOPIC": topics.input,
        "RESULT_TOPIC": topics.output,
        "DEAD_LETTER_TOPIC": topics.dead,
        "KAFKA_CONSUMER_GROUP": topics.group,
        "CHECKPOINT_LOCATION": str(topics.workdir / "checkpoint"),
        "QUERY_NAME": "bench",
        "SPARK_MASTER": master,
        "MIN_PARTITIONS": str(min_partitions),
        "STARTING_OFFSETS": "earliest",
        # The harness matches each result to its input by key, as the peers write it (the bench's keys are unique).
        "RESULT_KEY": "uuid",
        "PUSHGATEWAY_URL": "",
        "LOG_LEVEL": "WARNING",
        **BEST,
        **(overrides or {}),
    }
    return [sys.executable, "-m", "app.run"], env
