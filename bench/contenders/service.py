"""This service end to end: `python -m app.run` as a subprocess, configured only through its environment."""

import sys

# The best settings found by `make bench-levers` (docs/benchmarks.md, "Levers"); each is an app setting.
BEST = {
    "TRIGGER_INTERVAL": "0 seconds",
    "MAX_OFFSETS_PER_TRIGGER": "2000",
    "ARROW_MAX_RECORDS_PER_BATCH": "200",
    "NLP_BATCH_SIZE": "64",
    "ASYNC_PROGRESS_TRACKING": "true",
}


def command(bootstrap: str, topics, master: str = "local[2]", min_partitions: int = 0,
            overrides: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    env = {
        "APP_ENV": "development", "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "INPUT_TOPIC": topics.input,
        "RESULT_TOPIC": topics.output, "DEAD_LETTER_TOPIC": topics.dead, "KAFKA_CONSUMER_GROUP": topics.group,
        "CHECKPOINT_LOCATION": str(topics.workdir / "checkpoint"), "QUERY_NAME": "bench",
        "SPARK_MASTER": master, "MIN_PARTITIONS": str(min_partitions), "STARTING_OFFSETS": "earliest",
        "PUSHGATEWAY_URL": "", "LOG_LEVEL": "WARNING", **BEST, **(overrides or {}),
    }
    return [sys.executable, "-m", "app.run"], env
