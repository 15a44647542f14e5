"""The settings that are lists of key=value items (SPACY_MODELS, KAFKA_EXTRA_OPTIONS): valid lists parsed in
order, and every kind of bad item refused at start, naming the setting and why."""

import pytest

from app.setting_lists import parse_kafka_options, parse_models
from app.settings import Settings, SettingsError


def test_lists_are_parsed():
    models = Settings.load({"SPACY_MODELS": "en=a, de=./models/de"}).inference.models
    assert parse_models(models) == {"en": "a", "de": "./models/de"}
    assert parse_models(("fr = fr_core_news_sm", "ast=/m/ast")) == {"fr": "fr_core_news_sm", "ast": "/m/ast"}


@pytest.mark.parametrize(
    ("setting", "items", "why"),
    [
        ("SPACY_MODELS", " , ", "must name at least one lang=model"),
        ("SPACY_MODELS", "english=en_core_web_sm", "'english' is not a language code"),
        ("SPACY_MODELS", "EN=en_core_web_sm", "'EN' is not a language code"),
        ("SPACY_MODELS", "en=a,en=b", "'en' is given twice"),
        ("SPACY_MODELS", "en=a,fr", "item 2 is not lang=model"),
        ("SPACY_MODELS", "en=", "item 1 is not lang=model"),
        ("KAFKA_EXTRA_OPTIONS", "acks=1", "weaken the sink's pinned acks=all"),
        ("KAFKA_EXTRA_OPTIONS", "producer.acks=0", "weaken"),
        ("KAFKA_EXTRA_OPTIONS", "enable.idempotence=false", "weaken the sink's pinned enable.idempotence=true"),
        ("KAFKA_EXTRA_OPTIONS", "max.in.flight.requests.per.connection=10", "idempotent producer needs 1 to 5"),
        ("KAFKA_EXTRA_OPTIONS", "retries=0", "retries > 0"),
        ("KAFKA_EXTRA_OPTIONS", "max.request.size=big", "positive integer"),
        ("KAFKA_EXTRA_OPTIONS", "linger.ms", "item 1 is not name=value"),
        ("KAFKA_EXTRA_OPTIONS", "linger.ms=5,=3", "item 2 is not name=value"),
        ("KAFKA_EXTRA_OPTIONS", "Linger_MS=5", "does not look like a Kafka config name"),
        ("KAFKA_EXTRA_OPTIONS", "kafka.linger.ms=5", "without Spark's 'kafka.' prefix"),
        ("KAFKA_EXTRA_OPTIONS", "linger.ms=5,linger.ms=6", "given twice"),
        ("KAFKA_EXTRA_OPTIONS", "bootstrap.servers=evil:9092", "set KAFKA_BOOTSTRAP_SERVERS"),
        ("KAFKA_EXTRA_OPTIONS", "consumer.auto.offset.reset=latest", "set STARTING_OFFSETS"),
        ("KAFKA_EXTRA_OPTIONS", "key.serializer=x.Y", "Spark sets or refuses it"),
        ("KAFKA_EXTRA_OPTIONS", "ssl.endpoint.identification.algorithm=none", "must stay https"),
        ("KAFKA_EXTRA_OPTIONS", "sasl.login.callback.handler.class=com.evil.Handler", "loads a class"),
        ("KAFKA_EXTRA_OPTIONS", "consumer.sasl.client.callback.handler.class=x.Y", "loads a class"),
        ("KAFKA_EXTRA_OPTIONS", "metric.reporters.classes=x.Y", "loads a class"),
    ],
)
def test_a_bad_item_fails_fast_naming_the_setting_and_why(setting, items, why):
    with pytest.raises(SettingsError, match=setting) as info:
        Settings.load({setting: items})
    assert why in str(info.value)


def test_a_secret_in_kafka_extra_options_is_refused_and_not_echoed():
    with pytest.raises(SettingsError, match="KAFKA_EXTRA_OPTIONS") as info:
        Settings.load({"KAFKA_EXTRA_OPTIONS": "linger.ms=5,ssl.key.password=hunter2-secret"})
    assert "secret" in str(info.value) and "hunter2-secret" not in str(info.value)


def test_good_kafka_extra_options_load():
    extra = "linger.ms=5, producer.compression.type=zstd,consumer.fetch.max.bytes=1048576,acks=all"
    items = Settings.load({"KAFKA_EXTRA_OPTIONS": extra}).kafka.extra_options
    assert items == ("linger.ms=5", "producer.compression.type=zstd", "consumer.fetch.max.bytes=1048576", "acks=all")
    assert parse_kafka_options(items) == {  # names as given, side prefix kept for the options to route
        "linger.ms": "5",
        "producer.compression.type": "zstd",
        "consumer.fetch.max.bytes": "1048576",
        "acks": "all",
    }
