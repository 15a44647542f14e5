"""Settings: defaults, per-environment files, env overrides, fail-fast validation, masked secrets."""

import pytest

from app.setting_lists import parse_models
from app.settings import Settings, SettingsError


def test_defaults_are_the_local_demo():
    s = Settings.load({})
    assert (s.kafka_bootstrap_servers, s.input_topic, s.result_topic, s.dead_letter_topic) == (
        "localhost:9092", "input", "result", "dead-letter")
    assert s.fail_on_data_loss is True


def test_environment_file_then_env_vars(tmp_path):
    (tmp_path / "staging.toml").write_text('input_topic = "from-file"\nmax_offsets_per_trigger = 7\n')
    s = Settings.load({"APP_ENV": "staging", "MAX_OFFSETS_PER_TRIGGER": "9"}, config_dir=tmp_path)
    assert (s.app_env, s.input_topic, s.max_offsets_per_trigger) == ("staging", "from-file", 9)


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
        ({"SPACY_MODELS": " , "}, "SPACY_MODELS"),
        ({"SPACY_MODELS": "english=en_core_web_sm"}, "SPACY_MODELS"),
        ({"SPACY_MODELS": "en=a,en=b"}, "SPACY_MODELS"),
        ({"LANG_MIN_CONFIDENCE": "1.5"}, "LANG_MIN_CONFIDENCE"),
        ({"ASYNC_PROGRESS_TRACKING": "true", "TRIGGER_INTERVAL": "available-now", "QUARANTINE": "false"},
         "ASYNC_PROGRESS_TRACKING"),
        ({"ASYNC_PROGRESS_TRACKING": "true"}, "QUARANTINE=false"),  # async offsets hide the failed batch's range
    ],
)
def test_bad_values_fail_fast_naming_the_setting(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.load(env)


def test_async_progress_tracking_is_allowed_without_the_quarantine():
    s = Settings.load({"ASYNC_PROGRESS_TRACKING": "true", "QUARANTINE": "false"})
    assert s.async_progress_tracking and not s.quarantine


def test_secrets_are_masked_everywhere():
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": "hunter2-secret", "PUSHGATEWAY_PASSWORD": "pg-secret"}
    s = Settings.load(env)
    for text in (repr(s), str(s), str(s.describe())):
        assert "hunter2-secret" not in text and "pg-secret" not in text
    assert s.describe()["kafka_sasl_password"] == "***"


def test_a_bad_secret_is_not_echoed():
    with pytest.raises(SettingsError) as info:
        Settings.load({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI",
                       "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in str(info.value)


def test_lists_are_parsed():
    models = Settings.load({"SPACY_MODELS": "en=a, de=./models/de"}).spacy_models
    assert parse_models(models) == {"en": "a", "de": "./models/de"}


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings.load({}).input_topic = "x"  # type: ignore[misc]


def test_readme_documents_every_setting():
    from dataclasses import fields
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [f.metadata["env"] for f in fields(Settings) if f"`{f.metadata['env']}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ("acks=1", "weaken the sink's pinned acks=all"),
        ("producer.acks=0", "weaken"),
        ("enable.idempotence=false", "weaken the sink's pinned enable.idempotence=true"),
        ("max.in.flight.requests.per.connection=10", "idempotent producer needs 1 to 5"),
        ("retries=0", "retries > 0"),
        ("max.request.size=big", "positive integer"),
        ("linger.ms", "item 1 is not name=value"),
        ("linger.ms=5,=3", "item 2 is not name=value"),
        ("Linger_MS=5", "does not look like a Kafka config name"),
        ("kafka.linger.ms=5", "without Spark's 'kafka.' prefix"),
        ("linger.ms=5,linger.ms=6", "given twice"),
        ("bootstrap.servers=evil:9092", "set KAFKA_BOOTSTRAP_SERVERS"),
        ("consumer.auto.offset.reset=latest", "set STARTING_OFFSETS"),
        ("key.serializer=x.Y", "Spark sets or refuses it"),
    ],
)
def test_bad_kafka_extra_options_fail_fast_naming_the_setting(extra, why):
    with pytest.raises(SettingsError, match="KAFKA_EXTRA_OPTIONS") as info:
        Settings.load({"KAFKA_EXTRA_OPTIONS": extra})
    assert why in str(info.value)


def test_a_secret_in_kafka_extra_options_is_refused_and_not_echoed():
    with pytest.raises(SettingsError, match="KAFKA_EXTRA_OPTIONS") as info:
        Settings.load({"KAFKA_EXTRA_OPTIONS": "linger.ms=5,ssl.key.password=hunter2-secret"})
    assert "secret" in str(info.value) and "hunter2-secret" not in str(info.value)


def test_good_kafka_extra_options_load():
    extra = "linger.ms=5, producer.compression.type=zstd,consumer.fetch.max.bytes=1048576,acks=all"
    assert Settings.load({"KAFKA_EXTRA_OPTIONS": extra}).kafka_extra_options == (
        "linger.ms=5", "producer.compression.type=zstd", "consumer.fetch.max.bytes=1048576", "acks=all")


@pytest.mark.parametrize("name", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00", "\x7f"])
def test_a_control_character_in_a_sasl_credential_fails_fast(name, bad):
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN",
           "KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": "hunter2-secret"}
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
    assert Settings.load({"APP_ENV": app_env, "PUSHGATEWAY_URL": "https://pg:9091", **auth}).pushgateway_username
    assert Settings.load({"APP_ENV": app_env, "PUSHGATEWAY_URL": "http://pg:9091"}).pushgateway_url  # no auth


def test_pushgateway_basic_auth_over_http_is_allowed_in_development():
    s = Settings.load({"APP_ENV": "development", "PUSHGATEWAY_URL": "http://127.0.0.1:9091",
                       "PUSHGATEWAY_USERNAME": "u", "PUSHGATEWAY_PASSWORD": "p"})
    assert s.pushgateway_url == "http://127.0.0.1:9091"
