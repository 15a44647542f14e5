"""Start-up check of the Kafka connection: fail in seconds with a message naming the settings to fix.

Without it a wrong password or an unreachable broker shows up as a Spark query retrying for minutes, and the
error deep in a Java stack trace. The check uses the same connection settings as the offsets committer.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from app.contract import RECORD_OVERHEAD_BYTES, RecordBudget
from app.kafka.options import kafka_python_config, producer_max_request_size
from app.settings import Settings

log = logging.getLogger(__name__)
# The smallest record limit the service runs with: room for a dead letter's context and some of the message.
MIN_RECORD_BYTES = 2 * RECORD_OVERHEAD_BYTES
AdminFactory = Callable[..., Any]


class PreflightError(RuntimeError):
    """Kafka cannot be used with these settings; the message says which settings to check."""


def _where(s: Settings) -> str:
    where = f"KAFKA_BOOTSTRAP_SERVERS={s.kafka.bootstrap_servers} KAFKA_SECURITY_PROTOCOL={s.kafka.security_protocol}"
    if s.kafka.security_protocol.startswith("SASL_"):
        where += f" KAFKA_SASL_MECHANISM={s.kafka.sasl_mechanism} KAFKA_SASL_USERNAME={s.kafka.sasl_username}"
        if s.kafka.sasl_mechanism == "OAUTHBEARER":
            where += f" KAFKA_SASL_OAUTH_TOKEN_URL={s.kafka.sasl_oauth_token_url}"
    if s.kafka.ssl_cert_location:
        where += f" KAFKA_SSL_CERT_LOCATION={s.kafka.ssl_cert_location}"
    if s.kafka.ssl_ca_location:
        where += f" KAFKA_SSL_CA_LOCATION={s.kafka.ssl_ca_location}"
    return where


def _hint(s: Settings) -> str:
    checks = ["is the broker up and the address right"]
    if s.kafka.oauth:
        checks.append("does the token endpoint know the client KAFKA_SASL_USERNAME with KAFKA_SASL_PASSWORD")
    elif s.kafka.security_protocol.startswith("SASL_"):
        checks.append("are KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD right for this mechanism")
    if s.kafka.security_protocol.endswith("SSL") and not s.kafka.ssl_cert_location:
        checks.append("does the broker require a client certificate (KAFKA_SSL_CERT_LOCATION)")
    if s.kafka.security_protocol.endswith("SSL"):
        checks.append("does the broker's certificate match KAFKA_SSL_CA_LOCATION and the host name")
    return "; ".join(checks) + "?"


def _error(exc: BaseException) -> str:
    """The exception's name and message, once (kafka-python's messages often start with the name already)."""
    text = str(exc)
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"


def check_kafka(s: Settings, timeout_seconds: float = 20.0, admin: AdminFactory = KafkaAdminClient) -> None:
    """Connect and authenticate within the timeout, and find the input, result and dead-letter topics."""
    timeout_ms = int(timeout_seconds * 1000)
    try:
        client = admin(
            client_id="ner-preflight",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
            **kafka_python_config(s),
        )
    except Exception as exc:
        # The exception names the failure (timeout, authentication, TLS); the settings never carry the password.
        msg = f"cannot connect to Kafka within {timeout_seconds:.0f}s with {_where(s)} ({_hint(s)}): {_error(exc)}"
        raise PreflightError(msg) from exc
    try:
        existing = set(client.list_topics())
    except Exception as exc:
        msg = f"connected to Kafka but could not list topics with {_where(s)}: {_error(exc)}"
        raise PreflightError(msg) from exc
    finally:
        client.close()
    wanted = [("INPUT_TOPIC", t) for t in s.kafka.input_topics]
    wanted += [("RESULT_TOPIC", s.kafka.result_topic), ("DEAD_LETTER_TOPIC", s.kafka.dead_letter_topic)]
    missing = [f"{env}={topic}" for env, topic in wanted if topic not in existing]
    if missing:
        msg = f"topic(s) missing on {s.kafka.bootstrap_servers}: {', '.join(missing)} (or this user may not see them)"
        raise PreflightError(msg)
    if s.kafka.input_topic_pattern:
        matching = pattern_topics(s, existing)
        if not matching:
            log.warning(
                "INPUT_TOPIC_PATTERN=%s matches no topic yet; it is read when one appears", s.kafka.input_topic_pattern
            )
        wanted += [("INPUT_TOPIC_PATTERN", t) for t in matching]
    log.info("Kafka reachable at %s; topics %s present", s.kafka.bootstrap_servers, ", ".join(t for _, t in wanted))


def pattern_topics(s: Settings, existing: set[str]) -> list[str]:
    """The topics INPUT_TOPIC_PATTERN matches now (the whole name, as Spark's subscribePattern; internal topics
    such as __consumer_offsets never)."""
    pattern = re.compile(s.kafka.input_topic_pattern)
    return sorted(t for t in existing if pattern.fullmatch(t) and not t.startswith("__"))


def _record_limits(client: Any, topics: list[str], bootstrap: str) -> dict[str, int]:
    """max.message.bytes of each topic, as the broker reports it."""
    described = client.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, t, ["max.message.bytes"]) for t in topics], config_filter="all"
    )
    limits = {}
    for topic in topics:
        value = described.get("topic", {}).get(topic, {}).get("max.message.bytes", {}).get("value")
        if value is None:
            msg = f"could not read max.message.bytes of topic {topic!r} on {bootstrap}"
            raise PreflightError(msg)
        limits[topic] = int(value)
    return limits


def max_record_bytes(s: Settings, timeout_seconds: float = 20.0, admin: AdminFactory = KafkaAdminClient) -> int:
    """The largest record the sink can write: the producer's max.request.size and each output topic's
    max.message.bytes, read from the broker (never assumed: an operator may have lowered one).

    The dead-letter topic must take records as large as every input topic does, since a dead letter is the
    original record (with its context on top): refused otherwise, naming the topics and their limits."""
    timeout_ms = int(timeout_seconds * 1000)
    client = admin(
        client_id="ner-preflight",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
        **kafka_python_config(s),
    )
    try:
        inputs = list(s.kafka.input_topics) or pattern_topics(s, set(client.list_topics()))
        outputs = [s.kafka.result_topic, s.kafka.dead_letter_topic]
        topic_limits = _record_limits(
            client, outputs + [t for t in inputs if t not in outputs], s.kafka.bootstrap_servers
        )
    finally:
        client.close()
    dead_letter_limit = topic_limits[s.kafka.dead_letter_topic]
    if larger := {t: topic_limits[t] for t in inputs if topic_limits[t] > dead_letter_limit}:
        listed = ", ".join(f"{t} ({n})" for t, n in larger.items())
        msg = (
            f"DEAD_LETTER_TOPIC={s.kafka.dead_letter_topic} takes records up to max.message.bytes = "
            f"{dead_letter_limit} bytes, less than input topic(s) {listed}: a dead letter keeps the whole original "
            f"record, so raise the dead-letter topic's max.message.bytes to at least {max(larger.values())}"
        )
        raise PreflightError(msg)
    limits = {"max.request.size (producer)": producer_max_request_size(s)}
    limits.update((f"max.message.bytes of {t}", topic_limits[t]) for t in outputs)
    smallest = min(limits, key=limits.__getitem__)
    if limits[smallest] < MIN_RECORD_BYTES:
        msg = (
            f"records are bounded by {smallest} = {limits[smallest]} bytes, under the {MIN_RECORD_BYTES} a dead "
            "letter needs for its context; raise it"
        )
        raise PreflightError(msg)
    log.info("records are bounded by %s = %d bytes", smallest, limits[smallest])
    return limits[smallest]


def record_budget(s: Settings) -> RecordBudget | None:
    """The start's one-line guard (stream and backfill): Kafka reachable with these settings, and the record sizes
    the sink may write; None after logging why not."""
    if not kafka_ready(s):
        return None
    try:
        return RecordBudget(max_record_bytes(s))
    except PreflightError as exc:
        log.error("start-up check failed: %s", exc)
        return None


def kafka_ready(s: Settings, timeout_seconds: float = 20.0) -> bool:
    """run.py's one-line guard: log the reason and return False instead of a traceback."""
    try:
        check_kafka(s, timeout_seconds)
    except PreflightError as exc:
        log.error("start-up check failed: %s", exc)
        return False
    return True
