"""Kafka client options derived from settings, for Spark's source/sink and for kafka-python, kept consistent."""

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from app.kafka.oauth import ClientCredentials
from app.setting_lists import DURABLE_PRODUCER, parse_kafka_options
from app.settings import Settings

_JAAS_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "OAUTHBEARER": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
}
# Fetches and refreshes tokens by the client credentials grant (Kafka 3.1+, KIP-768).
_OAUTH_LOGIN_HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
# Kafka 4 clients reach only the token endpoints this JVM system property lists (3.9.1+: all when unset).
OAUTH_ALLOWED_URLS_PROPERTY = "org.apache.kafka.sasl.oauthbearer.allowed.urls"
KAFKA_DEFAULT_MAX_REQUEST_SIZE = 1048576  # the producer's max.request.size when nobody sets it (Kafka's default)


def _quote(value: str) -> str:
    # Settings validation rejects control characters; this guard keeps an unvalidated value out of the JAAS text.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("a JAAS value must not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _connection_options(s: Settings) -> dict[str, str]:
    """`kafka.*` options both sides need: where the brokers are and how to authenticate (Spark redacts
    sasl.jaas.config in its logs)."""
    options = {
        "kafka.bootstrap.servers": s.kafka.bootstrap_servers,
        "kafka.security.protocol": s.kafka.security_protocol,
    }
    if s.kafka.security_protocol.startswith("SASL_"):
        module = s.kafka.jaas_class_prefix + _JAAS_MODULES[s.kafka.sasl_mechanism]
        options["kafka.sasl.mechanism"] = s.kafka.sasl_mechanism
        if s.kafka.sasl_mechanism == "OAUTHBEARER":
            scope = f" scope={_quote(s.kafka.sasl_oauth_scope)}" if s.kafka.sasl_oauth_scope else ""
            options["kafka.sasl.login.callback.handler.class"] = s.kafka.jaas_class_prefix + _OAUTH_LOGIN_HANDLER
            options["kafka.sasl.oauthbearer.token.endpoint.url"] = s.kafka.sasl_oauth_token_url
            options["kafka.sasl.jaas.config"] = (
                f"{module} required clientId={_quote(s.kafka.sasl_username)} "
                f"clientSecret={_quote(s.kafka.sasl_password)}{scope};"
            )
        else:
            options["kafka.sasl.jaas.config"] = (
                f"{module} required username={_quote(s.kafka.sasl_username)} password={_quote(s.kafka.sasl_password)};"
            )
    if s.kafka.ssl_ca_location:
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = s.kafka.ssl_ca_location
    if s.kafka.ssl_cert_location:
        # mTLS. The PEM texts go inline, so executors need no copy of the files; the session's redaction pattern
        # (app/spark/session.py) hides a private key's text wherever Spark prints options.
        options["kafka.ssl.keystore.type"] = "PEM"
        options["kafka.ssl.keystore.certificate.chain"] = Path(s.kafka.ssl_cert_location).read_text()
        options["kafka.ssl.keystore.key"] = s.kafka.ssl_key_pem or Path(s.kafka.ssl_key_location).read_text()
        if s.kafka.ssl_key_password:
            options["kafka.ssl.key.password"] = s.kafka.ssl_key_password
    return options


def _extra_options(s: Settings, side: str) -> dict[str, str]:
    """KAFKA_EXTRA_OPTIONS for one side (`producer` or `consumer`): unprefixed ones and that side's own."""
    options = {}
    for name, value in parse_kafka_options(s.kafka.extra_options).items():
        prefix, _, rest = name.partition(".")
        if prefix == side:
            options[f"kafka.{rest}"] = value
        elif prefix not in ("producer", "consumer") and (side == "producer" or name not in DURABLE_PRODUCER):
            options[f"kafka.{name}"] = value  # both sides, except a restated durability option: producer only
    return options


def spark_sink_options(s: Settings) -> dict[str, str]:
    """The Kafka sink's options. acks=all and idempotence are pinned after the pass-through ones: a write is
    acknowledged only once every in-sync replica has it, and a retried send is not written twice."""
    pinned = {f"kafka.{name}": values[0] for name, values in DURABLE_PRODUCER.items()}
    return {**_connection_options(s), **_extra_options(s, "producer"), **pinned}


def spark_source_options(s: Settings) -> dict[str, str]:
    """The Kafka source's options: the connection, the consumer pass-through ones and the executors' tuning.

    A task's consumer is cached between micro-batches with a fetch still waiting at the end of the log; the next
    task's seek and poll wait for that fetch, which the broker holds up to fetch.max.wait.ms (Kafka's default
    500 ms) when no new data arrived for it. A short wait takes ~0.5 s off every small batch
    (docs/benchmarks.md, "Where the time goes").
    """
    return {
        **_connection_options(s),
        **_extra_options(s, "consumer"),
        "kafka.fetch.max.wait.ms": str(s.kafka.fetch_max_wait_ms),
    }


def producer_max_request_size(s: Settings) -> int:
    """The sink producer's max.request.size in bytes: a record (key + value + headers + overhead) over it is
    refused by the producer, so record sizes are bounded by it."""
    return int(spark_sink_options(s).get("kafka.max.request.size", KAFKA_DEFAULT_MAX_REQUEST_SIZE))


def kafka_python_config(s: Settings) -> dict[str, Any]:
    """The same connection for kafka-python clients (the offsets committer, tools, tests)."""
    config: dict[str, Any] = {
        "bootstrap_servers": s.kafka.bootstrap_servers.split(","),
        "security_protocol": s.kafka.security_protocol,
    }
    if s.kafka.oauth:
        provider = token_provider(
            s.kafka.sasl_oauth_token_url, s.kafka.sasl_username, s.kafka.sasl_password, s.kafka.sasl_oauth_scope
        )
        config.update(sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=provider)
    elif s.kafka.security_protocol.startswith("SASL_"):
        config.update(
            sasl_mechanism=s.kafka.sasl_mechanism,
            sasl_plain_username=s.kafka.sasl_username,
            sasl_plain_password=s.kafka.sasl_password,
        )
    if s.kafka.ssl_ca_location:
        config["ssl_cafile"] = s.kafka.ssl_ca_location
    if s.kafka.ssl_cert_location:
        config["ssl_certfile"] = s.kafka.ssl_cert_location
        config["ssl_keyfile"] = s.kafka.ssl_key_location or private_file(s.kafka.ssl_key_pem)
        if s.kafka.ssl_key_password:
            config["ssl_password"] = s.kafka.ssl_key_password
    return config


@functools.cache
def token_provider(url: str, client_id: str, client_secret: str, scope: str) -> ClientCredentials:
    """One provider per client, shared by every kafka-python client of this process: a token is fetched once and
    reused until it is due for renewal, not once per client."""
    return ClientCredentials(url, client_id, client_secret, scope)


def librdkafka_config(s: Settings) -> dict[str, str]:
    """The same connection for librdkafka (confluent-kafka), which the Python workers' transactional producers use
    in exactly-once mode. Certificates and keys go as PEM text, so executors need no copy of the files."""
    config = {"bootstrap.servers": s.kafka.bootstrap_servers, "security.protocol": s.kafka.security_protocol.lower()}
    if s.kafka.oauth:
        config.update(
            {
                "sasl.mechanism": "OAUTHBEARER",
                "sasl.oauthbearer.method": "oidc",
                "sasl.oauthbearer.token.endpoint.url": s.kafka.sasl_oauth_token_url,
                "sasl.oauthbearer.client.id": s.kafka.sasl_username,
                "sasl.oauthbearer.client.secret": s.kafka.sasl_password,
            }
        )
        if s.kafka.sasl_oauth_scope:
            config["sasl.oauthbearer.scope"] = s.kafka.sasl_oauth_scope
    elif s.kafka.security_protocol.startswith("SASL_"):
        config.update(
            {
                "sasl.mechanism": s.kafka.sasl_mechanism,
                "sasl.username": s.kafka.sasl_username,
                "sasl.password": s.kafka.sasl_password,
            }
        )
    if s.kafka.ssl_ca_location:
        config["ssl.ca.pem"] = Path(s.kafka.ssl_ca_location).read_text()
    if s.kafka.ssl_cert_location:
        config["ssl.certificate.pem"] = Path(s.kafka.ssl_cert_location).read_text()
        config["ssl.key.pem"] = s.kafka.ssl_key_pem or Path(s.kafka.ssl_key_location).read_text()
        if s.kafka.ssl_key_password:
            config["ssl.key.password"] = s.kafka.ssl_key_password
    return config


@functools.cache
def private_file(text: str) -> str:
    """`text` in a file only this user can read (kafka-python loads keys from files), removed at exit."""
    directory = tempfile.mkdtemp(prefix="ner-kafka-")  # mode 0700
    path = os.path.join(directory, "client.key")
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)
    atexit.register(shutil.rmtree, directory, True)
    return path
