"""Kafka client options derived from settings, for Spark's source/sink and for kafka-python, kept consistent."""

from typing import Any

from app.utils.settings import Settings

_JAAS_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def spark_kafka_options(s: Settings) -> dict[str, str]:
    """`kafka.*` options shared by the Kafka source and sink (Spark redacts sasl.jaas.config in its logs)."""
    options = {
        "kafka.bootstrap.servers": s.kafka_bootstrap_servers,
        "kafka.security.protocol": s.kafka_security_protocol,
    }
    if s.kafka_security_protocol.startswith("SASL_"):
        module = s.kafka_jaas_class_prefix + _JAAS_MODULES[s.kafka_sasl_mechanism]
        options["kafka.sasl.mechanism"] = s.kafka_sasl_mechanism
        options["kafka.sasl.jaas.config"] = (
            f"{module} required username={_quote(s.kafka_sasl_username)} "
            f"password={_quote(s.kafka_sasl_password)};"
        )
    if s.kafka_ssl_ca_location:
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = s.kafka_ssl_ca_location
    return options


def spark_source_options(s: Settings) -> dict[str, str]:
    """The Kafka source's options: the shared ones plus the executors' consumer tuning.

    A task's consumer is cached between micro-batches with a fetch still waiting at the end of the log; the next
    task's seek and poll wait for that fetch, which the broker holds up to fetch.max.wait.ms (Kafka's default
    500 ms) when no new data arrived for it. A short wait takes ~0.5 s off every small batch
    (docs/benchmarks.md, "Where the time goes").
    """
    return {**spark_kafka_options(s), "kafka.fetch.max.wait.ms": str(s.kafka_fetch_max_wait_ms)}


def kafka_python_config(s: Settings) -> dict[str, Any]:
    """The same connection for kafka-python clients (the offsets committer, tools, tests)."""
    config: dict[str, Any] = {
        "bootstrap_servers": s.kafka_bootstrap_servers.split(","),
        "security_protocol": s.kafka_security_protocol,
    }
    if s.kafka_security_protocol.startswith("SASL_"):
        config.update(
            sasl_mechanism=s.kafka_sasl_mechanism,
            sasl_plain_username=s.kafka_sasl_username,
            sasl_plain_password=s.kafka_sasl_password,
        )
    if s.kafka_ssl_ca_location:
        config["ssl_cafile"] = s.kafka_ssl_ca_location
    return config
