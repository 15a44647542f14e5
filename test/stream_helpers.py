"""Helpers for the streaming tests: settings for uuid-named topics, running a query, reading outputs."""

import base64
import json
from pathlib import Path

from app.settings import Settings
from test.fixtures.kafka import consume_all


def stream_settings(bootstrap: str, topics: tuple[str, str, str], checkpoint: Path, **overrides: str) -> Settings:
    env = {
        "APP_ENV": "testing", "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "INPUT_TOPIC": topics[0],
        "RESULT_TOPIC": topics[1], "DEAD_LETTER_TOPIC": topics[2], "CHECKPOINT_LOCATION": str(checkpoint),
        "TRIGGER_INTERVAL": "available-now", "QUERY_NAME": f"q_{topics[0].replace('-', '_')}",
        **overrides,
    }
    return Settings.load(env)


def outputs(bootstrap: str, topic: str, expected: int | None = None, timeout: float = 60.0) -> list[dict]:
    """Every record of an output topic as {"key", "value" (parsed JSON), "partition", "offset"}."""
    return [
        {"key": r.key, "value": json.loads(r.value), "partition": r.partition, "offset": r.offset}
        for r in consume_all(bootstrap, topic, expected_count=expected, timeout=timeout)
    ]


def original_value(dead_letter: dict) -> bytes | None:
    encoded = dead_letter["value"].get("value_base64")
    return None if encoded is None else base64.b64decode(encoded)
