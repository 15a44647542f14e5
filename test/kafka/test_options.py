"""Kafka client options: the source's consumer tuning, the sink's pinned durability, pass-through options, SASL
for Spark and kafka-python from the same settings."""

import os

import pytest

from app.kafka.options import (
    _quote,
    kafka_python_config,
    librdkafka_config,
    producer_max_request_size,
    spark_sink_options,
    spark_source_options,
)
from app.settings import Settings


def test_source_options_shorten_the_fetch_wait_and_keep_the_shared_ones():
    s = Settings.load({"KAFKA_BOOTSTRAP_SERVERS": "broker:9093"})
    options = spark_source_options(s)
    assert options["kafka.fetch.max.wait.ms"] == "10"
    assert options["kafka.bootstrap.servers"] == "broker:9093"
    assert spark_source_options(Settings.load({"KAFKA_FETCH_MAX_WAIT_MS": "500"}))["kafka.fetch.max.wait.ms"] == "500"
    # A consumer-only setting must not reach the sink's producer (Kafka warns about unknown configs).
    assert "kafka.fetch.max.wait.ms" not in spark_sink_options(s)


def test_sasl_is_the_same_account_for_spark_and_kafka_python(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = Settings.load(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "svc",
            "KAFKA_SASL_PASSWORD": 'p"w',
            "KAFKA_SSL_CA_LOCATION": str(ca),
        }
    )
    spark = spark_sink_options(s)
    assert spark_source_options(s)["kafka.sasl.jaas.config"] == spark["kafka.sasl.jaas.config"]
    assert spark["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert spark["kafka.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="svc" password="p\\"w";'
    )
    assert spark["kafka.ssl.truststore.location"] == str(ca)
    python = kafka_python_config(s)
    assert (python["sasl_plain_username"], python["sasl_plain_password"], python["ssl_cafile"]) == (
        "svc",
        'p"w',
        str(ca),
    )


def test_the_sink_pins_durable_writes_and_the_source_gets_no_producer_options():
    s = Settings.load({"KAFKA_EXTRA_OPTIONS": "acks=-1,enable.idempotence=TRUE"})  # restating is fine
    sink, source = spark_sink_options(s), spark_source_options(s)
    assert (sink["kafka.acks"], sink["kafka.enable.idempotence"]) == ("all", "true")
    assert not {"kafka.acks", "kafka.enable.idempotence"} & set(source)


def test_extra_options_pass_through_to_the_side_they_name():
    s = Settings.load(
        {
            "KAFKA_EXTRA_OPTIONS": "client.dns.lookup=use_all_dns_ips, producer.compression.type=zstd,"
            "consumer.fetch.max.bytes=1048576"
        }
    )
    sink, source = spark_sink_options(s), spark_source_options(s)
    assert sink["kafka.client.dns.lookup"] == source["kafka.client.dns.lookup"] == "use_all_dns_ips"
    assert sink["kafka.compression.type"] == "zstd" and "kafka.compression.type" not in source
    assert source["kafka.fetch.max.bytes"] == "1048576" and "kafka.fetch.max.bytes" not in sink
    assert not any(k.startswith(("kafka.producer.", "kafka.consumer.")) for k in {**sink, **source})


def test_producer_max_request_size_is_kafkas_default_or_the_pass_through():
    assert producer_max_request_size(Settings.load({})) == 1048576
    for extra in ("max.request.size=4194304", "producer.max.request.size=4194304"):
        assert producer_max_request_size(Settings.load({"KAFKA_EXTRA_OPTIONS": extra})) == 4194304
    assert producer_max_request_size(Settings.load({"KAFKA_EXTRA_OPTIONS": "consumer.max.request.size=7"})) == 1048576


def test_a_control_character_never_reaches_the_jaas_text():
    with pytest.raises(ValueError, match="control"):
        _quote('svc"\npassword="x')
    assert _quote('a\\b"c') == '"a\\\\b\\"c"'


def test_oauthbearer_gives_spark_the_login_handler_and_kafka_python_a_token_provider():
    s = Settings.load(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "KAFKA_SASL_USERNAME": "client-1",
            "KAFKA_SASL_PASSWORD": "s3cret",
            "KAFKA_SASL_OAUTH_TOKEN_URL": "https://idp.example/oauth2/token",
            "KAFKA_SASL_OAUTH_SCOPE": "kafka",
            "DATABRICKS_RUNTIME_VERSION": "17.3",  # the shaded client's class names
        }
    )
    options = spark_source_options(s)
    assert options["kafka.sasl.mechanism"] == "OAUTHBEARER"
    assert options["kafka.sasl.login.callback.handler.class"] == (
        "kafkashaded.org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
    )
    assert options["kafka.sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/oauth2/token"
    assert options["kafka.sasl.jaas.config"] == (
        "kafkashaded.org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        'clientId="client-1" clientSecret="s3cret" scope="kafka";'
    )
    config = kafka_python_config(s)
    assert config["sasl_mechanism"] == "OAUTHBEARER" and "sasl_plain_password" not in config
    assert "s3cret" not in repr(config["sasl_oauth_token_provider"])


def test_mutual_tls_passes_the_pem_texts_to_spark_and_files_to_kafka_python(tmp_path):
    cert, key, ca = tmp_path / "client.crt", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_LOCATION": str(ca), "KAFKA_SSL_CERT_LOCATION": str(cert)}
    from_file = Settings.load({**env, "KAFKA_SSL_KEY_LOCATION": str(key), "KAFKA_SSL_KEY_PASSWORD": "kp"})
    options = spark_sink_options(from_file)
    assert options["kafka.ssl.keystore.type"] == "PEM" and options["kafka.ssl.key.password"] == "kp"
    assert options["kafka.ssl.keystore.certificate.chain"] == cert.read_text()
    assert options["kafka.ssl.keystore.key"] == key.read_text()
    config = kafka_python_config(from_file)
    assert (config["ssl_certfile"], config["ssl_keyfile"], config["ssl_password"]) == (str(cert), str(key), "kp")

    from_secret = Settings.load({**env, "KAFKA_SSL_KEY_PEM": key.read_text()})
    assert spark_source_options(from_secret)["kafka.ssl.keystore.key"] == key.read_text()
    written = kafka_python_config(from_secret)["ssl_keyfile"]
    assert open(written).read() == key.read_text() and oct(os.stat(written).st_mode & 0o777) == "0o600"


def test_librdkafka_gets_the_same_account_with_pem_texts_for_the_workers(tmp_path):
    cert, key, ca = tmp_path / "client.crt", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    ca.write_text("-----BEGIN CERTIFICATE-----\nCA\n")
    s = Settings.load(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "b1:9093,b2:9093",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "svc",
            "KAFKA_SASL_PASSWORD": "pw",
            "KAFKA_SSL_CA_LOCATION": str(ca),
            "KAFKA_SSL_CERT_LOCATION": str(cert),
            "KAFKA_SSL_KEY_LOCATION": str(key),
        }
    )
    assert librdkafka_config(s) == {
        "bootstrap.servers": "b1:9093,b2:9093",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "pw",
        "ssl.ca.pem": ca.read_text(),
        "ssl.certificate.pem": cert.read_text(),
        "ssl.key.pem": key.read_text(),
    }
    oauth = Settings.load(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "KAFKA_SASL_USERNAME": "client-1",
            "KAFKA_SASL_PASSWORD": "s3cret",
            "KAFKA_SASL_OAUTH_TOKEN_URL": "https://idp.example/oauth2/token",
            "KAFKA_SASL_OAUTH_SCOPE": "kafka",
        }
    )
    config = librdkafka_config(oauth)
    assert config["sasl.oauthbearer.method"] == "oidc" and config["sasl.oauthbearer.client.secret"] == "s3cret"
    assert config["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/oauth2/token"
    assert config["sasl.oauthbearer.scope"] == "kafka"
    from confluent_kafka import Producer

    Producer(config)  # librdkafka knows every option (it refuses an unknown one at once)


def test_kafka_python_clients_of_one_account_share_one_token_provider():
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
        "KAFKA_SASL_USERNAME": "client-1",
        "KAFKA_SASL_PASSWORD": "s3cret",
        "KAFKA_SASL_OAUTH_TOKEN_URL": "https://idp.example/oauth2/token",
    }
    first, second = kafka_python_config(Settings.load(env)), kafka_python_config(Settings.load(env))
    assert first["sasl_oauth_token_provider"] is second["sasl_oauth_token_provider"]
    other = kafka_python_config(Settings.load({**env, "KAFKA_SASL_USERNAME": "client-2"}))
    assert other["sasl_oauth_token_provider"] is not first["sasl_oauth_token_provider"]
