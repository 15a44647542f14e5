"""The start-up check: a clear, quick, secret-free error for an unreachable broker or missing topics."""

import logging
import time

import pytest

from app.kafka.preflight import PreflightError, check_kafka, kafka_ready, max_record_bytes
from app.settings import Settings

SECRET = "s3cret-Preflight-pw"


def settings(**env: str) -> Settings:
    return Settings.load(
        {"APP_ENV": "testing", "INPUT_TOPIC": "in", "RESULT_TOPIC": "out", "DEAD_LETTER_TOPIC": "dead", **env}
    )


class FakeAdmin:
    topics = ["in", "out"]

    def __init__(self, **config) -> None:
        self.config = config

    def list_topics(self) -> list[str]:
        return self.topics

    def close(self) -> None:
        pass


def test_unreachable_broker_fails_quickly_naming_the_settings_not_the_password():
    s = settings(
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="svc-ner",
        KAFKA_SASL_PASSWORD=SECRET,
    )
    started = time.monotonic()
    with pytest.raises(PreflightError) as caught:
        check_kafka(s, timeout_seconds=2)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1" in message and "KAFKA_SASL_USERNAME=svc-ner" in message
    assert SECRET not in message and SECRET not in repr(caught.value.__cause__)


def test_missing_topics_are_named_with_their_settings():
    with pytest.raises(PreflightError, match="DEAD_LETTER_TOPIC=dead") as caught:
        check_kafka(settings(), admin=FakeAdmin)
    assert "INPUT_TOPIC" not in str(caught.value)


def test_the_admin_client_gets_the_timeout_and_the_connection_settings():
    seen = {}

    class Recording(FakeAdmin):
        topics = ["in", "out", "dead"]

        def __init__(self, **config) -> None:
            seen.update(config)

    check_kafka(settings(KAFKA_BOOTSTRAP_SERVERS="b1:9092,b2:9092"), timeout_seconds=3, admin=Recording)
    assert seen["bootstrap_servers"] == ["b1:9092", "b2:9092"] and seen["bootstrap_timeout_ms"] == 3000


def test_kafka_ready_logs_instead_of_raising(caplog):
    caplog.set_level(logging.ERROR)
    assert not kafka_ready(settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"), timeout_seconds=1)
    assert "start-up check failed" in caplog.text and "127.0.0.1:1" in caplog.text


def test_a_record_limit_too_small_for_a_dead_letter_refuses_the_start(kafka_bootstrap, kafka_topics):
    """Under 16 KiB, a dead letter's context would not fit (its kept value went negative and kept ~all of it)."""
    from deploy.local.stack.clients import create_topics

    dead, small_input = f"dead-small-{time.monotonic_ns()}", f"in-small-{time.monotonic_ns()}"
    create_topics(kafka_bootstrap, [dead, small_input], configs={"max.message.bytes": "8000"})
    s = Settings.load(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "INPUT_TOPIC": small_input,
            "RESULT_TOPIC": kafka_topics("out"),
            "DEAD_LETTER_TOPIC": dead,
        }
    )
    with pytest.raises(PreflightError, match=f"max.message.bytes of {dead} = 8000 bytes, under the 16384"):
        max_record_bytes(s)


def test_a_dead_letter_topic_smaller_than_an_input_topic_refuses_the_start(kafka_bootstrap, kafka_topics):
    """A dead letter is the whole original record: the dead-letter topic must take what every input topic takes."""
    from deploy.local.stack.clients import create_topics

    large = f"in-large-{time.monotonic_ns()}"
    create_topics(kafka_bootstrap, [large], configs={"max.message.bytes": str(4 * 2**20)})
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RESULT_TOPIC": kafka_topics("out")}
    dead = kafka_topics("dead")
    s = Settings.load({**env, "INPUT_TOPIC": f"{kafka_topics('in')},{large}", "DEAD_LETTER_TOPIC": dead})
    with pytest.raises(PreflightError, match=f"DEAD_LETTER_TOPIC={dead} .* input topic\\(s\\) {large} \\(4194304\\)"):
        max_record_bytes(s)
    create_topics(
        kafka_bootstrap, [bigger := f"dead-large-{time.monotonic_ns()}"], configs={"max.message.bytes": str(4 * 2**20)}
    )
    assert max_record_bytes(Settings.load({**env, "INPUT_TOPIC": large, "DEAD_LETTER_TOPIC": bigger})) == 2**20


def test_every_input_topic_must_exist_and_a_pattern_may_match_none_yet(caplog):
    class Listing(FakeAdmin):
        topics = ["a", "out", "dead", "ner-x", "ner-y", "__consumer_offsets"]

    with pytest.raises(PreflightError, match="INPUT_TOPIC=b"):
        check_kafka(settings(INPUT_TOPIC="a,b", DEAD_LETTER_TOPIC="dead"), admin=Listing)
    caplog.set_level(logging.INFO)
    check_kafka(settings(INPUT_TOPIC_PATTERN="ner-.*", DEAD_LETTER_TOPIC="dead"), admin=Listing)
    assert "ner-x, ner-y" in caplog.text
    check_kafka(settings(INPUT_TOPIC_PATTERN="none-.*", DEAD_LETTER_TOPIC="dead"), admin=Listing)
    assert "matches no topic yet" in caplog.text
