"""The settings that are lists of `key=value` items, parsed and checked: SPACY_MODELS and KAFKA_EXTRA_OPTIONS;
and the one setting that is a point in time, STARTING_TIMESTAMP.

app/settings.py validates them at start with these functions; the transform and the Kafka options read them here.
"""

import re
from datetime import datetime

# KAFKA_EXTRA_OPTIONS: Kafka client configs Spark gets as `kafka.<name>`; a `producer.` or `consumer.` prefix
# (Kafka Streams' convention) sends one to the sink or the source only.
_KAFKA_NAME = re.compile(r"[a-z][a-z0-9]*(\.[a-z0-9]+)*")
_KAFKA_SECRET = re.compile(r"password|secret|jaas|(^|\.)key$")  # startup logs settings in clear: no secrets here
_KAFKA_NOT_PASSED = {
    "bootstrap.servers": "set KAFKA_BOOTSTRAP_SERVERS",
    "security.protocol": "set KAFKA_SECURITY_PROTOCOL",
    "sasl.mechanism": "set KAFKA_SASL_MECHANISM",
    "ssl.truststore.location": "set KAFKA_SSL_CA_LOCATION",
    "ssl.truststore.type": "set KAFKA_SSL_CA_LOCATION",
    "fetch.max.wait.ms": "set KAFKA_FETCH_MAX_WAIT_MS",
    "auto.offset.reset": "Spark refuses it: set STARTING_OFFSETS",
    "group.id": "Spark's source keeps a group per query; lag is committed to KAFKA_CONSUMER_GROUP",
    **dict.fromkeys(
        (
            "key.serializer",
            "value.serializer",
            "key.deserializer",
            "value.deserializer",
            "enable.auto.commit",
            "interceptor.classes",
        ),
        "Spark sets or refuses it",
    ),
}
# The sink pins acks=all and idempotence: an extra option may restate them, never weaken them.
DURABLE_PRODUCER = {"acks": ("all", "-1"), "enable.idempotence": ("true",)}
_KAFKA_INT_RANGES = {
    "max.request.size": (1, 2**31 - 1, "must be a positive integer"),
    "max.in.flight.requests.per.connection": (1, 5, "the idempotent producer needs 1 to 5"),
    "retries": (1, 2**31 - 1, "the idempotent producer needs retries > 0"),
}


def _pairs(items: tuple[str, ...], shape: str) -> dict[str, str]:
    """`key=value` items as {key: value}, in order; ValueError for an item of another shape or a key given twice."""
    pairs: dict[str, str] = {}
    for position, item in enumerate(items, 1):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not (sep and key and value):
            raise ValueError(f"item {position} is not {shape}")
        if key in pairs:
            raise ValueError(f"{key!r} is given twice")
        pairs[key] = value
    return pairs


def parse_models(items: tuple[str, ...]) -> dict[str, str]:
    """SPACY_MODELS as {lang: model}; ValueError says why not."""
    models = _pairs(items, "lang=model")
    for lang in models:
        if not re.fullmatch(r"[a-z]{2,3}", lang):
            raise ValueError(f"{lang!r} is not a language code (2 or 3 lowercase letters, like en or fr)")
    if not models:
        raise ValueError("must name at least one lang=model")
    return models


def parse_kafka_options(items: tuple[str, ...]) -> dict[str, str]:
    """KAFKA_EXTRA_OPTIONS as {name: value}, names as given (with their side prefix); ValueError says why not."""
    options = _pairs(items, "name=value")
    for name, value in options.items():
        if name.startswith("kafka."):
            raise ValueError(f"{name!r}: give the Kafka name, without Spark's 'kafka.' prefix")
        if not _KAFKA_NAME.fullmatch(name):
            raise ValueError(f"{name!r} does not look like a Kafka config name (like max.request.size)")
        side, _, rest = name.partition(".")
        base = rest if side in ("producer", "consumer") and rest else name
        if base in _KAFKA_NOT_PASSED:
            raise ValueError(f"{base!r} cannot be passed through: {_KAFKA_NOT_PASSED[base]}")
        if base.endswith((".class", ".classes")):
            raise ValueError(f"{base!r} loads a class into the Kafka client: not accepted from a setting")
        if base == "ssl.endpoint.identification.algorithm" and value.lower() != "https":
            raise ValueError(f"{base!r} must stay https: anything else switches off the broker's host name check")
        if _KAFKA_SECRET.search(base):
            raise ValueError(f"{base!r} looks like a secret, and the settings are logged in clear at start")
        if base in DURABLE_PRODUCER and value.lower() not in DURABLE_PRODUCER[base]:
            raise ValueError(f"{name}={value} would weaken the sink's pinned {base}={DURABLE_PRODUCER[base][0]}")
        if base in _KAFKA_INT_RANGES:
            low, high, why = _KAFKA_INT_RANGES[base]
            if not (value.isdigit() and low <= int(value) <= high):
                raise ValueError(f"{name}={value}: {why}")
    return options


def parse_timestamp_ms(text: str) -> int:
    """A point in time as milliseconds since the epoch: epoch milliseconds, or ISO 8601 with a zone
    (2026-12-05T09:00:00Z, 2026-12-05T09:00:00+01:00); ValueError says why not."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is neither epoch milliseconds nor an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError(f"{text[:40]!r} has no time zone: add Z or an offset like +01:00")
    return int(when.timestamp() * 1000)
