"""The contenders' wiring (no broker): the confluent-kafka consumer, Quix Streams exactly-once and this service
exactly-once are started as the bench means them, and exactly-once results are timed when they become readable."""

from types import SimpleNamespace

from bench import harness, kafka_io, report, run
from bench.contenders import quix_app

TOPICS = harness.Topics("in", "out", "dead", "group", harness.RAW / "spec-test")


def argv(spec: harness.Spec) -> list[str]:
    return spec.command("127.0.0.1:1", TOPICS)[0]


def test_every_spec_is_a_contender_and_every_plain_peer_and_exactly_once_row_too():
    specs = run.specs(2)
    assert set(specs) <= set(run.CONTENDERS) and set(run.CURVED) <= set(specs)
    assert set(report.PLAIN_PEERS) | {n for pair in report.EXACTLY_ONCE for n in pair} <= set(specs)
    assert {"service", "service-eos"} <= set(run.CURVED)  # p99 at 50% for both, at the same input rates


def test_the_confluent_consumer_runs_its_module_in_one_group_of_one_process_per_core():
    spec = run.specs(2)["confluent-consumer"]
    command = argv(spec)
    assert command[1:3] == ["-m", "bench.contenders.confluent_consumer"]
    assert command[command.index("--workers") + 1] == "2" and command[command.index("--group") + 1] == "group"
    assert spec.group_members == 2 and not spec.transactional
    assert spec.label == "confluent-kafka consumer x2"


def test_quix_exactly_once_is_the_quix_app_with_its_guarantee():
    specs = run.specs(2)
    eos, alo = specs["quix-eos"], specs["quix"]
    assert eos.label == "Quix Streams x2, exactly-once" and eos.group_members == 2 and eos.transactional
    assert argv(eos) == [*argv(alo), "--guarantee", "exactly-once"] and not alo.transactional
    parse = quix_app.parser().parse_args
    base = ["--bootstrap", "b", "--input", "i", "--output", "o", "--group", "g"]
    assert parse(base).guarantee == "at-least-once"
    assert parse([*base, "--guarantee", "exactly-once"]).guarantee == "exactly-once"


def test_the_service_exactly_once_is_the_service_with_output_guarantee_exactly_once():
    specs = run.specs(2)
    (program, env), (base_program, base_env) = (
        specs[name].command("127.0.0.1:1", TOPICS) for name in ("service-eos", "service")
    )
    assert program == base_program and env == {**base_env, "OUTPUT_GUARANTEE": "exactly-once"}
    assert "OUTPUT_GUARANTEE" not in base_env
    assert specs["service-eos"].transactional and not specs["service"].transactional
    assert specs["service-eos"].info["overrides"] == {"OUTPUT_GUARANTEE": "exactly-once"}


class _Consumer:
    def __init__(self, config: dict) -> None:
        self.config = config

    def close(self) -> None:
        pass


def _record(key: str, timestamp: int) -> SimpleNamespace:
    return SimpleNamespace(key=key.encode(), timestamp=timestamp, value=b"{}")


def test_the_collector_reads_committed_records_and_times_transactional_ones_when_it_reads_them(monkeypatch):
    made = []
    monkeypatch.setattr(
        kafka_io.clients, "consumer_at", lambda b, t, **config: made.append(config) or _Consumer(config)
    )
    monkeypatch.setattr(kafka_io.time, "time", lambda: 1000.5)
    plain, transactional = kafka_io.Collector("b", "out"), kafka_io.Collector("b", "out", seen_time=True)
    assert [c["isolation_level"] for c in made] == ["read_committed", "read_committed"]
    assert [c.get("fetch_max_wait_ms") for c in made] == [None, 50]  # read as soon as it commits

    for collector in (plain, transactional):
        collector.take([[_record("a", 7), _record("b", 8)], [_record("a", 9)]])

    assert plain.results(["a", "b"]) == {"a": (7, b"{}"), "b": (8, b"{}")}  # the broker's append time
    assert transactional.results(["a", "b"]) == {"a": (1000500, b"{}"), "b": (1000500, b"{}")}  # when readable
    assert plain.duplicates == transactional.duplicates == 1
