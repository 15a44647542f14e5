"""Settings: defaults, per-environment files, env overrides, fail-fast validation, masked secrets."""

import re

import pytest

from app.settings import Settings, SettingsError
from app.settings_fields import walk


def test_defaults_are_the_local_demo():
    s = Settings.load({})
    assert (s.kafka.bootstrap_servers, s.kafka.input_topic, s.kafka.result_topic, s.kafka.dead_letter_topic) == (
        "localhost:9092",
        "input",
        "result",
        "dead-letter",
    )
    assert s.kafka.fail_on_data_loss is True


def test_environment_file_then_env_vars(tmp_path):
    (tmp_path / "staging.toml").write_text('[kafka]\ninput_topic = "from-file"\nmax_offsets_per_trigger = 7\n')
    s = Settings.load({"APP_ENV": "staging", "MAX_OFFSETS_PER_TRIGGER": "9"}, config_dir=tmp_path)
    assert (s.app_env, s.kafka.input_topic, s.kafka.max_offsets_per_trigger) == ("staging", "from-file", 9)


def test_shipped_environment_files_load():
    for env in ("development", "testing", "staging", "production"):
        assert Settings.load({"APP_ENV": env}).app_env == env


def test_unknown_key_in_file_fails(tmp_path):
    (tmp_path / "development.toml").write_text("input_topik = 'x'\n")
    with pytest.raises(SettingsError, match="input_topik"):
        Settings.load({}, config_dir=tmp_path)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"APP_ENV": "prod"}, "APP_ENV"),
        ({"MAX_OFFSETS_PER_TRIGGER": "lots"}, "MAX_OFFSETS_PER_TRIGGER"),
        ({"MAX_OFFSETS_PER_TRIGGER": "-1"}, "MAX_OFFSETS_PER_TRIGGER"),
        ({"KAFKA_FETCH_MAX_WAIT_MS": "-5"}, "KAFKA_FETCH_MAX_WAIT_MS"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "no-port"}, "KAFKA_BOOTSTRAP_SERVERS"),
        ({"FAIL_ON_DATA_LOSS": "maybe"}, "FAIL_ON_DATA_LOSS"),
        ({"TRIGGER_INTERVAL": "soon"}, "TRIGGER_INTERVAL"),
        ({"STARTING_OFFSETS": "beginning"}, "STARTING_OFFSETS"),
        ({"RESULT_TOPIC": "input"}, "DEAD_LETTER_TOPIC"),
        ({"NLP_BATCH_SIZE": "0"}, "NLP_BATCH_SIZE"),
        ({"CHECKPOINT_FILE_MANAGER": "hdfs"}, "CHECKPOINT_FILE_MANAGER"),
        ({"VOCAB_WARMUP_CHARS": "-1"}, "VOCAB_WARMUP_CHARS"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"}, "KAFKA_SSL_CA_LOCATION"),
        ({"PUSHGATEWAY_URL": "localhost:9091"}, "PUSHGATEWAY_URL"),
        ({"LANG_MIN_CONFIDENCE": "1.5"}, "LANG_MIN_CONFIDENCE"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        (
            {"ASYNC_PROGRESS_TRACKING": "true", "TRIGGER_INTERVAL": "available-now", "QUARANTINE": "false"},
            "ASYNC_PROGRESS_TRACKING",
        ),
        ({"ASYNC_PROGRESS_TRACKING": "true"}, "QUARANTINE=false"),  # async offsets hide the failed batch's range
    ],
)
def test_bad_values_fail_fast_naming_the_setting(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.load(env)


def test_async_progress_tracking_is_allowed_without_the_quarantine():
    s = Settings.load({"ASYNC_PROGRESS_TRACKING": "true", "QUARANTINE": "false"})
    assert s.spark.async_progress_tracking and not s.spark.quarantine


def test_secrets_are_masked_everywhere():
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "svc",
        "KAFKA_SASL_PASSWORD": "hunter2-secret",
        "PUSHGATEWAY_PASSWORD": "pg-secret",
    }
    s = Settings.load(env)
    for text in (repr(s), str(s), str(s.describe())):
        assert "hunter2-secret" not in text and "pg-secret" not in text
    assert s.describe()["kafka.sasl_password"] == "***"


def test_a_bad_secret_is_not_echoed():
    with pytest.raises(SettingsError) as info:
        Settings.load(
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "GSSAPI",
                "KAFKA_SASL_USERNAME": "u",
                "KAFKA_SASL_PASSWORD": "hunter2-secret",
            }
        )
    assert "hunter2-secret" not in str(info.value)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings.load({}).kafka.input_topic = "x"  # type: ignore[misc]


def test_readme_documents_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [f.metadata["env"] for _, f in walk(Settings) if f"`{f.metadata['env']}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"


@pytest.mark.parametrize("name", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00", "\x7f"])
def test_a_control_character_in_a_sasl_credential_fails_fast(name, bad):
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "svc",
        "KAFKA_SASL_PASSWORD": "hunter2-secret",
    }
    env[name] = f'{env[name]}"{bad}other="x'
    with pytest.raises(SettingsError, match=name) as info:
        Settings.load(env)
    assert "hunter2-secret" not in str(info.value)


@pytest.mark.parametrize("app_env", ["testing", "staging", "production"])
def test_pushgateway_basic_auth_over_http_is_refused_outside_development(app_env):
    auth = {"PUSHGATEWAY_USERNAME": "u", "PUSHGATEWAY_PASSWORD": "pg-secret"}
    with pytest.raises(SettingsError, match="PUSHGATEWAY_URL") as info:
        Settings.load({"APP_ENV": app_env, "PUSHGATEWAY_URL": "HTTP://pg:9091", **auth})
    assert "https://" in str(info.value) and "pg-secret" not in str(info.value)
    with pytest.raises(SettingsError, match="PUSHGATEWAY_URL"):
        Settings.load({"APP_ENV": app_env, "PUSHGATEWAY_URL": "http://pg:9091", "PUSHGATEWAY_PASSWORD": "pg-secret"})
    assert Settings.load(
        {"APP_ENV": app_env, "PUSHGATEWAY_URL": "https://pg:9091", **auth}
    ).metrics.pushgateway_username
    assert Settings.load({"APP_ENV": app_env, "PUSHGATEWAY_URL": "http://pg:9091"}).metrics.pushgateway_url  # no auth


def test_pushgateway_basic_auth_over_http_is_allowed_in_development():
    s = Settings.load(
        {
            "APP_ENV": "development",
            "PUSHGATEWAY_URL": "http://127.0.0.1:9091",
            "PUSHGATEWAY_USERNAME": "u",
            "PUSHGATEWAY_PASSWORD": "p",
        }
    )
    assert s.metrics.pushgateway_url == "http://127.0.0.1:9091"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
@pytest.mark.parametrize("env", ["MESSAGE_TIMEOUT_SECONDS", "METRICS_PUSH_INTERVAL_SECONDS", "LANG_MIN_CONFIDENCE"])
def test_a_number_that_is_not_finite_is_refused(env, value):
    with pytest.raises(SettingsError, match=env):
        Settings.load({env: value})


@pytest.mark.parametrize("env", ["MESSAGE_TIMEOUT_SECONDS", "PROGRESS_POLL_INTERVAL_SECONDS", "STOP_TIMEOUT_SECONDS"])
def test_a_duration_over_a_day_is_refused(env):
    with pytest.raises(SettingsError, match=f"{env}.*at most 86400"):
        Settings.load({env: "1e12"})


def test_secrets_inside_urls_and_jvm_options_are_masked_too():
    s = Settings.load(
        {
            "PUSHGATEWAY_URL": "https://ops:pg-url-secret@push.example:9091",
            "DRIVER_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1 -Djavax.net.ssl.trustStorePassword=jks-secret -Dx=1",
        }
    )
    for text in (repr(s), str(s.describe())):
        assert "pg-url-secret" not in text and "jks-secret" not in text
    assert s.describe()["metrics.pushgateway_url"] == "https://ops:***@push.example:9091"
    assert (
        s.describe()["spark.driver_java_options"]
        == "-XX:TieredStopAtLevel=1 -Djavax.net.ssl.trustStorePassword=*** -Dx=1"
    )
    assert s.metrics.pushgateway_url.endswith("pg-url-secret@push.example:9091")  # the job itself still has it


def test_on_databricks_the_jaas_prefix_defaults_to_the_shaded_client():
    """Without it the Kafka source fails with 'No LoginModule found' on Databricks: derived, not remembered."""
    assert Settings.load({"DATABRICKS_RUNTIME_VERSION": "17.3"}).kafka.jaas_class_prefix == "kafkashaded."
    assert Settings.load({}).kafka.jaas_class_prefix == ""
    given = {"DATABRICKS_RUNTIME_VERSION": "17.3", "KAFKA_JAAS_CLASS_PREFIX": "custom."}
    assert Settings.load(given).kafka.jaas_class_prefix == "custom."


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("MAX_TEXT_LENGTH", "0"),
        ("MAX_TEXT_LENGTH", "99999999"),
        ("INFERENCE_MEMORY_MB", "-1"),
        ("NLP_BATCH_SIZE", "10000000"),
        ("LANG_MIN_CONFIDENCE", "1.5"),
        ("MIN_PARTITIONS", "-2"),
    ],
)
def test_every_number_has_a_sane_range(env, value):
    with pytest.raises(SettingsError, match=env):
        Settings.load({env: value})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INPUT_TOPIC": "a,a"}, "INPUT_TOPIC='a,a': names a topic twice"),
        ({"INPUT_TOPIC": "a,result"}, "input, result and dead-letter topics must all differ"),
        ({"INPUT_TOPIC": "a b"}, "is not a Kafka topic name"),
        ({"INPUT_TOPIC_PATTERN": "ner-.*|result"}, "matches the output topic 'result'"),
        ({"INPUT_TOPIC_PATTERN": "ner-("}, "is not a regular expression"),
        ({"STARTING_TIMESTAMP": "2026-12-05T09:00:00"}, "has no time zone"),
        ({"STARTING_TIMESTAMP": "yesterday"}, "neither epoch milliseconds nor an ISO 8601 time"),
        ({"RESULT_KEY": "offset"}, "RESULT_KEY='offset': must be one of source, uuid, input-key"),
        ({"PASSTHROUGH_HEADERS": "*,trace"}, "* (all) stands alone"),
        ({"PASSTHROUGH_FIELDS": "tenant,tenant"}, "names a header or field twice"),
    ],
)
def test_kafka_native_settings_fail_fast_naming_the_setting(env, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.load(env)


def test_kafka_native_settings_parse():
    s = Settings.load(
        {"INPUT_TOPIC": "a, b", "STARTING_TIMESTAMP": "2026-12-05T09:00:00+01:00", "PASSTHROUGH_HEADERS": ""}
    ).kafka
    assert s.input_topics == ("a", "b") and s.starting_timestamp_ms == 1_796_457_600_000
    assert s.passthrough_headers == () and s.result_key == "source"
    assert Settings.load({"INPUT_TOPIC_PATTERN": "ner-.*"}).kafka.input_topics == ()
    assert Settings.load({"STARTING_TIMESTAMP": "1796457600000"}).kafka.starting_timestamp_ms == 1_796_457_600_000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KAFKA_SSL_CERT_LOCATION": "/nonexistent.crt"},
            "KAFKA_SSL_CERT_LOCATION='/nonexistent.crt': file does not exist",
        ),
        (
            {"KAFKA_SSL_KEY_PEM": "-----BEGIN PRIVATE KEY-----"},
            "a client certificate needs KAFKA_SECURITY_PROTOCOL=SSL",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY_PEM": "x"}, "a client key needs its certificate"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
                "KAFKA_SASL_USERNAME": "c",
                "KAFKA_SASL_PASSWORD": "s",
                "KAFKA_SASL_OAUTH_TOKEN_URL": "http://idp.example/token",
            },
            "OAUTHBEARER needs the token endpoint as https://",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
                "KAFKA_SASL_USERNAME": "c",
                "KAFKA_SASL_PASSWORD": "s",
            },
            "OAUTHBEARER needs the token endpoint",
        ),
        ({"KAFKA_SASL_OAUTH_SCOPE": 'a" b'}, "must not contain spaces, control characters or quotes"),
    ],
)
def test_client_certificate_and_oauth_settings_fail_fast(env, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.load(env)


def test_a_client_key_given_twice_or_not_pem_is_refused(tmp_path):
    cert = tmp_path / "c.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_LOCATION": str(cert)}
    with pytest.raises(SettingsError, match="one of KAFKA_SSL_KEY_LOCATION or KAFKA_SSL_KEY_PEM"):
        Settings.load({**env, "KAFKA_SSL_KEY_LOCATION": str(cert), "KAFKA_SSL_KEY_PEM": "-----BEGIN PRIVATE KEY-----"})
    with pytest.raises(SettingsError, match="is not a PEM private key") as caught:
        Settings.load({**env, "KAFKA_SSL_KEY_PEM": "hunter2"})
    assert "hunter2" not in str(caught.value)  # a secret is never echoed


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OUTPUT_GUARANTEE": "exactly_once"}, "OUTPUT_GUARANTEE='exactly_once': must be one of at-least-once"),
        ({"OUTPUT_GUARANTEE": "exactly-once", "MIN_PARTITIONS": "4"}, "MIN_PARTITIONS=4: exactly-once writes each"),
        ({"KAFKA_TRANSACTION_TIMEOUT_MS": "900001"}, "KAFKA_TRANSACTION_TIMEOUT_MS=900001: must be >= 1000"),
    ],
)
def test_output_guarantee_settings_fail_fast_naming_the_setting(env, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.load(env)


def test_exactly_once_is_chosen_by_name_and_at_least_once_is_the_default():
    assert not Settings.load({}).kafka.exactly_once
    s = Settings.load({"OUTPUT_GUARANTEE": "exactly-once", "MIN_PARTITIONS": "1"}).kafka
    assert s.exactly_once and s.transaction_timeout_ms == 60_000
