"""Kafka client options: the source's consumer tuning, SASL for Spark and kafka-python from the same settings."""

from app.utils.kafka_options import kafka_python_config, spark_kafka_options, spark_source_options
from app.utils.settings import Settings


def test_source_options_shorten_the_fetch_wait_and_keep_the_shared_ones():
    s = Settings.load({"KAFKA_BOOTSTRAP_SERVERS": "broker:9093"})
    options = spark_source_options(s)
    assert options["kafka.fetch.max.wait.ms"] == "10"
    assert options["kafka.bootstrap.servers"] == "broker:9093"
    assert spark_source_options(Settings.load({"KAFKA_FETCH_MAX_WAIT_MS": "500"}))["kafka.fetch.max.wait.ms"] == "500"
    # A consumer-only setting must not reach the sink's producer (Kafka warns about unknown configs).
    assert "kafka.fetch.max.wait.ms" not in spark_kafka_options(s)


def test_sasl_is_the_same_account_for_spark_and_kafka_python(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = Settings.load({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                       "KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": 'p"w', "KAFKA_SSL_CA_LOCATION": str(ca)})
    spark = spark_kafka_options(s)
    assert spark["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert spark["kafka.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="svc" password="p\\"w";')
    assert spark["kafka.ssl.truststore.location"] == str(ca)
    python = kafka_python_config(s)
    assert (python["sasl_plain_username"], python["sasl_plain_password"], python["ssl_cafile"]) == (
        "svc", 'p"w', str(ca))
