"""The dead-letter replay tool: the pure choice per letter (headers in, headers or a skip reason out), its options,
and replays against a real broker of hand-made dead letters."""

import io
import uuid
from collections.abc import Sequence

import pytest
from kafka import KafkaProducer

from app.kafka import replay as rp
from app.kafka.replay import Header, Resend, Selection, Skip, main, plan
from app.schemas import DEAD_LETTER_HEADER_PREFIX, DEAD_LETTER_HEADERS, REPLAY_COUNT_HEADER
from deploy.local.stack import clients

T0 = 1_796_547_600_000  # 2026-12-06T09:00:00Z
HOUR = 3_600_000


def letter(
    reason: str = "invalid_json",
    topic: str = "input",
    partition: int = 0,
    offset: int = 42,
    failed_at: int | None = T0,
    original: Sequence[Header] = (),
    count: int | None = None,
    dropped: str | None = None,
) -> list[Header]:
    """A dead letter's headers as the service writes them: the original's, then the context."""
    headers = list(original)
    if count is not None:
        headers.append((REPLAY_COUNT_HEADER, str(count).encode()))
    context = {
        "reason": reason,
        "detail": "what was wrong: ünïcode",
        "topic": topic,
        "partition": str(partition),
        "offset": str(offset),
        "timestamp": str(T0 - HOUR),
        "failed_at": None if failed_at is None else str(failed_at),
        "version": "0.1.0",
        "dropped": dropped,
    }
    headers += [(DEAD_LETTER_HEADER_PREFIX + k, v.encode()) for k, v in context.items() if v is not None]
    return headers


# ---- the choice per letter


def why(action: Resend | Skip) -> str:
    assert isinstance(action, Skip), action
    return action.why


def resend(action: Resend | Skip) -> Resend:
    assert isinstance(action, Resend), action
    return action


def test_the_context_headers_are_all_named_by_the_contract():
    names = {name.removeprefix(DEAD_LETTER_HEADER_PREFIX) for name, _ in letter(dropped="value")}
    assert names - {REPLAY_COUNT_HEADER} <= set(DEAD_LETTER_HEADERS)


def test_the_original_headers_are_kept_in_order_the_context_removed_and_the_count_set():
    original = [("traceparent", b"00-abc-01"), ("bin", b"\xff\x00"), ("traceparent", b"again")]
    action = plan(letter(original=original), Selection())
    assert action == Resend("input", [*original, (REPLAY_COUNT_HEADER, b"1")])


def test_the_count_is_incremented_and_replaced_not_repeated():
    action = plan(letter(original=[("a", b"1")], count=2), Selection())
    assert isinstance(action, Resend)
    assert action.headers == [("a", b"1"), (REPLAY_COUNT_HEADER, b"3")]


def test_a_letter_at_max_replays_is_skipped_and_a_higher_limit_takes_it():
    assert plan(letter(count=3), Selection()) == Skip(rp.AT_MAX_REPLAYS, "replayed 3 times already")
    assert why(plan(letter(count=7), Selection())) == rp.AT_MAX_REPLAYS
    action = plan(letter(count=3), Selection(max_replays=5))
    assert isinstance(action, Resend) and action.headers[-1] == (REPLAY_COUNT_HEADER, b"4")


def test_repeated_counts_take_the_largest_and_an_unreadable_count_is_skipped():
    headers = [(REPLAY_COUNT_HEADER, b"1"), (REPLAY_COUNT_HEADER, b"3"), *letter()]
    assert why(plan(headers, Selection())) == rp.AT_MAX_REPLAYS
    for bad in (b"two", b"-1", b"", b"\xff"):
        assert why(plan([(REPLAY_COUNT_HEADER, bad), *letter()], Selection())) == rp.BAD_COUNT


@pytest.mark.parametrize("dropped", ["value", "value,headers", "value,headers,key", "key"])
def test_an_incomplete_letter_is_skipped_and_says_where_the_original_is(dropped):
    action = plan(letter(topic="orders", partition=3, offset=1234, dropped=dropped), Selection())
    assert isinstance(action, Skip) and action.why == rp.INCOMPLETE
    assert action.detail.startswith("orders/3/1234 (") and dropped.split(",")[0] in action.detail


def test_to_overrides_the_source_topic_and_without_either_the_letter_is_skipped():
    assert resend(plan(letter(topic="orders"), Selection(to="orders-retry"))).topic == "orders-retry"
    no_topic = [(n, v) for n, v in letter() if n != DEAD_LETTER_HEADER_PREFIX + "topic"]
    assert why(plan(no_topic, Selection())) == rp.NO_TOPIC
    assert resend(plan(no_topic, Selection(to="elsewhere"))).topic == "elsewhere"


def test_records_kafka_python_cannot_send_are_skipped():
    assert why(plan(letter(original=[("nullable", None)]), Selection())) == rp.NULL_HEADER
    assert why(plan(letter(reason="null_value"), Selection(), empty=True)) == rp.EMPTY
    # A null value in a context header is dropped with the header: no reason to skip.
    assert isinstance(plan([*letter(), (DEAD_LETTER_HEADER_PREFIX + "detail", None)], Selection()), Resend)


def test_the_last_context_header_wins():
    headers = [*letter(topic="first"), (DEAD_LETTER_HEADER_PREFIX + "topic", b"second")]
    assert rp.context(headers)["topic"] == "second" and resend(plan(headers, Selection())).topic == "second"


def test_filter_by_reason():
    chosen = Selection(reasons=frozenset({"invalid_json", "empty_text"}))
    assert isinstance(plan(letter(reason="empty_text"), chosen), Resend)
    assert plan(letter(reason="text_too_long"), chosen) == Skip(rp.NOT_SELECTED)
    no_reason = [(n, v) for n, v in letter() if n != DEAD_LETTER_HEADER_PREFIX + "reason"]
    assert why(plan(no_reason, chosen)) == rp.NOT_SELECTED and isinstance(plan(no_reason, Selection()), Resend)


def test_filter_by_source_partition():
    chosen = Selection(partitions=frozenset({1, 4}))
    assert isinstance(plan(letter(partition=4), chosen), Resend)
    assert why(plan(letter(partition=0), chosen)) == rp.NOT_SELECTED
    garbled = [*letter(), (DEAD_LETTER_HEADER_PREFIX + "partition", b"one")]
    assert why(plan(garbled, chosen)) == rp.NOT_SELECTED


def test_filter_by_failed_at_since_inclusive_until_exclusive():
    window = Selection(since_ms=T0, until_ms=T0 + HOUR)
    assert isinstance(plan(letter(failed_at=T0), window), Resend)
    assert isinstance(plan(letter(failed_at=T0 + HOUR - 1), window), Resend)
    assert why(plan(letter(failed_at=T0 - 1), window)) == rp.NOT_SELECTED
    assert why(plan(letter(failed_at=T0 + HOUR), window)) == rp.NOT_SELECTED
    assert isinstance(plan(letter(failed_at=T0 - HOUR), Selection(until_ms=T0)), Resend)
    # Without failed_at a time filter cannot take it; without a time filter it does not matter.
    assert why(plan(letter(failed_at=None), Selection(since_ms=0))) == rp.NOT_SELECTED
    assert isinstance(plan(letter(failed_at=None), Selection()), Resend)


def test_the_filters_come_before_the_skips():
    """A letter the filters leave out is counted as not selected, whatever else is wrong with it."""
    chosen = Selection(reasons=frozenset({"empty_text"}))
    assert why(plan(letter(dropped="value", count=9), chosen)) == rp.NOT_SELECTED


# ---- options, progress, summary


def env(bootstrap: str = "127.0.0.1:1", dead: str = "dead", **more: str) -> dict[str, str]:
    return {
        "APP_ENV": "testing",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "INPUT_TOPIC": "input-unused",
        "RESULT_TOPIC": "result-unused",
        "DEAD_LETTER_TOPIC": dead,
        **more,
    }


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--since", "2026-12-06T09:00:00"], "argument --since: '2026-12-06T09:00:00' has no time zone"),
        (["--until", "yesterday"], "argument --until: 'yesterday' is neither epoch milliseconds"),
        (["--since", "-5"], "argument --since"),
        (["--since", "2026-12-06T10:00:00Z", "--until", "1796547600000"], "--since must be before --until"),
        (["--partition", "-1"], "argument --partition"),
        (["--max-replays", "0"], "argument --max-replays: '0' is not a whole number >= 1"),
        (["--to", "no spaces"], "argument --to"),
        (["--timeout", "0"], "argument --timeout"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_options_exit_2_naming_the_option(argv, says, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv, env())
    assert caught.value.code == 2 and says in capsys.readouterr().err


def test_times_are_iso_8601_with_a_zone_or_epoch_milliseconds():
    args = rp.parse_args(["--since", "2026-12-06T09:00:00Z", "--until", "2026-12-06T11:00:00+01:00"])
    assert (args.since, args.until) == (T0, T0 + HOUR)
    assert rp.parse_args(["--since", str(T0)]).since == T0


def test_bad_settings_and_replaying_into_the_dead_letter_topic_exit_2(capsys):
    assert main([], env(KAFKA_SECURITY_PROTOCOL="CARRIER_PIGEON")) == 2
    assert "bad settings: setting KAFKA_SECURITY_PROTOCOL" in capsys.readouterr().err
    assert main(["--to", "dead"], env()) == 2
    assert "--to must differ from the dead-letter topic dead" in capsys.readouterr().err
    assert main(["--from", "other", "--to", "other"], env()) == 2


def test_an_unknown_reason_is_allowed_with_a_note(capsys):
    assert main(["--reason", "not_a_reason", "--timeout", "1"], env()) == 1  # no broker at 127.0.0.1:1
    err = capsys.readouterr().err
    assert "note: --reason 'not_a_reason' is not one of the service's reasons" in err


def test_an_unreachable_broker_exits_1_naming_it(capsys):
    assert main(["--timeout", "1"], env()) == 1
    out, err = capsys.readouterr()
    assert "error on 127.0.0.1:1" in err and out == ""


def test_the_progress_bar():
    assert rp.bar(512, 1000, width=10) == "\r[#####     ] 512/1000"
    assert rp.bar(0, 0, width=4) == "\r[####] 0/0"
    out = io.StringIO()
    progress = rp.Progress(out)
    progress(0, 3)
    progress(1, 3)  # within 0.1 s of the last: not drawn
    progress(3, 3)  # the end always is
    progress.close()
    assert out.getvalue() == "\r[" + " " * 30 + "] 0/3\r[" + "#" * 30 + "] 3/3\n"
    silent = rp.Progress(None)
    silent(1, 2)
    silent.close()


def test_the_summary_counts_per_reason_and_lists_the_incomplete():
    tally = rp.Tally(read=6)
    tally.add("invalid_json", rp.SENT)
    tally.targets["input"] += 1
    tally.add("invalid_json", rp.AT_MAX_REPLAYS)
    tally.add("empty_text", rp.INCOMPLETE, "input/0/7 (value left out)")
    tally.add("empty_text", rp.NOT_SELECTED)
    tally.add("empty_text", rp.FAILED, "to input: KafkaTimeoutError: late")
    tally.add("empty_text", rp.FAILED, "to input: KafkaTimeoutError: late")
    text = rp.summary(tally, "dead", dry_run=False, max_replays=3)
    assert text.splitlines()[:2] == ["6 dead letter(s) read from dead", "sent: 1"]
    for line in (
        "  to input: 1",
        "skipped: 2",
        "  at max replays (3): 1",
        "  incomplete: 1",
        "not selected by the filters: 1",
        "failed: 2",
        "  2 x to input: KafkaTimeoutError: late",
        "reason        sent  skipped  not selected  failed",
        "empty_text       0        1             1       2",
        "invalid_json     1        1             0       0",
        "  input/0/7 (value left out)",
    ):
        assert line in text.splitlines(), line
    assert "would send: 0" in rp.summary(rp.Tally(), "dead", dry_run=True, max_replays=3)


# ---- against a broker


def produce_letters(bootstrap: str, topic: str, letters: list[tuple[bytes | None, bytes | None, list]]) -> None:
    producer = KafkaProducer(bootstrap_servers=clients.servers(bootstrap), acks="all")
    try:
        futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in letters]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def received(bootstrap: str, topic: str, count: int) -> list:
    """What arrived on `topic`, waiting for `count` records (and a moment more for any extra)."""
    records = clients.consume_all(bootstrap, topic, expected_count=count, timeout=30)
    extra = clients.consume_all(bootstrap, topic, timeout=5, idle=1) if count == 0 else []
    return records + extra


def run(argv: list[str], environ: dict[str, str], capsys) -> tuple[int, str]:
    code = main([*argv, "--timeout", "20"], environ)
    out, err = capsys.readouterr()
    return code, out + err


def test_replay_sends_the_originals_to_their_source_topics(kafka_bootstrap, kafka_topics, capsys):
    dead = kafka_topics("dead")
    orders, payments = kafka_topics("orders", partitions=2), kafka_topics("payments")
    produce_letters(
        kafka_bootstrap,
        dead,
        [
            (b"k1", b"\xff\x00 not json", letter(topic=orders, original=[("trace", b"t1")])),
            (None, b'{"uuid": 1}', letter(reason="invalid_uuid", topic=payments, count=1)),
            (b"k3", None, letter(reason="null_value", topic=orders, partition=1)),
        ],
    )
    code, output = run(["--progress"], env(kafka_bootstrap, dead), capsys)
    assert code == 0, output
    assert "sent: 3" in output and "\r[" + "#" * 30 + "] 3/3" in output
    by_key = {r.key: r for r in received(kafka_bootstrap, orders, 2)}
    assert by_key.keys() == {b"k1", b"k3"}
    assert by_key[b"k1"].value == b"\xff\x00 not json"
    assert by_key[b"k1"].headers == [("trace", b"t1"), (REPLAY_COUNT_HEADER, b"1")]
    assert by_key[b"k3"].value is None and by_key[b"k3"].headers == [(REPLAY_COUNT_HEADER, b"1")]
    [payment] = received(kafka_bootstrap, payments, 1)
    assert (payment.key, payment.value, payment.headers) == (None, b'{"uuid": 1}', [(REPLAY_COUNT_HEADER, b"2")])
    # The dead letters stay where they were: nothing is consumed away or committed.
    assert len(clients.consume_all(kafka_bootstrap, dead, expected_count=3)) == 3


def test_filters_by_reason_partition_and_time_select_the_right_letters(kafka_bootstrap, kafka_topics, capsys):
    dead = kafka_topics("dead", partitions=2)
    specs = {
        b"a": ("invalid_json", 0, T0),
        b"b": ("invalid_json", 1, T0 + HOUR),
        b"c": ("empty_text", 1, T0 + 2 * HOUR),
        b"d": ("text_too_long", 0, T0 + 3 * HOUR),
    }
    produce_letters(
        kafka_bootstrap,
        dead,
        [(k, b"v", letter(reason=r, topic="gone", partition=p, failed_at=t)) for k, (r, p, t) in specs.items()],
    )
    cases = [
        (["--reason", "invalid_json", "--reason", "text_too_long"], {b"a", b"b", b"d"}),
        (["--partition", "1"], {b"b", b"c"}),
        (["--since", "2026-12-06T10:00:00Z", "--until", str(T0 + 3 * HOUR)], {b"b", b"c"}),
        (["--reason", "invalid_json", "--partition", "1", "--since", str(T0)], {b"b"}),
    ]
    for argv, keys in cases:
        out = kafka_topics("out")
        code, output = run(["--from", dead, "--to", out, *argv], env(kafka_bootstrap, "dead-unused"), capsys)
        assert code == 0, output
        assert f"sent: {len(keys)}" in output and f"not selected by the filters: {4 - len(keys)}" in output
        assert {r.key for r in received(kafka_bootstrap, out, len(keys))} == keys, argv


def test_a_dry_run_counts_and_sends_nothing(kafka_bootstrap, kafka_topics, capsys):
    dead, source = kafka_topics("dead"), kafka_topics("input")
    produce_letters(
        kafka_bootstrap,
        dead,
        [
            (b"1", b"x", letter(topic=source)),
            (b"2", b"y", letter(topic=source)),
            (b"3", b"z", letter(reason="empty_text", topic=source, count=3)),
        ],
    )
    code, output = run(["--dry-run"], env(kafka_bootstrap, dead), capsys)
    assert code == 0, output
    lines = output.splitlines()
    assert "3 dead letter(s) read from " + dead + " (dry run: nothing sent)" in lines
    assert "would send: 2" in lines and "  at max replays (3): 1" in lines
    assert "invalid_json           2        0             0       0" in lines
    assert received(kafka_bootstrap, source, 0) == []


def test_letters_at_max_replays_or_incomplete_are_skipped(kafka_bootstrap, kafka_topics, capsys):
    dead, source = kafka_topics("dead"), kafka_topics("input")
    produce_letters(
        kafka_bootstrap,
        dead,
        [
            (b"again", b"v", letter(topic=source, count=2)),
            (b"looping", b"v", letter(topic=source, count=3)),
            (b"cut", b"", letter(topic=source, partition=0, offset=99, dropped="value")),
        ],
    )
    code, output = run([], env(kafka_bootstrap, dead), capsys)
    assert code == 0, output
    lines = output.splitlines()
    assert "sent: 1" in lines and "skipped: 2" in lines
    assert "  at max replays (3): 1" in lines and "  incomplete: 1" in lines
    assert f"  {source}/0/99 (value left out)" in lines
    [record] = received(kafka_bootstrap, source, 1)
    assert record.key == b"again" and record.headers == [(REPLAY_COUNT_HEADER, b"3")]


def test_a_missing_source_topic_fails_the_run_quickly(kafka_bootstrap, kafka_topics, capsys):
    dead = kafka_topics("dead")
    produce_letters(kafka_bootstrap, dead, [(b"k", b"v", letter(topic="no-such-topic-replay"))])
    code, output = run([], env(kafka_bootstrap, dead), capsys)
    assert code == 1
    assert "failed: 1" in output and "topic 'no-such-topic-replay' not found" in output


def test_an_empty_or_missing_dead_letter_topic(kafka_bootstrap, kafka_topics, capsys):
    dead = kafka_topics("dead")
    code, output = run([], env(kafka_bootstrap, dead), capsys)
    assert code == 0 and f"0 dead letter(s) read from {dead}" in output
    code, output = run([], env(kafka_bootstrap, "dead-never-created"), capsys)
    assert code == 1 and "topic 'dead-never-created' not found" in output


def test_a_send_the_broker_refuses_fails_the_run_with_its_error(kafka_bootstrap, kafka_topics, capsys):
    dead, small = kafka_topics("dead"), f"small-{uuid.uuid4().hex[:12]}"
    clients.create_topics(kafka_bootstrap, [small], configs={"max.message.bytes": "2000"})
    try:
        produce_letters(kafka_bootstrap, dead, [(b"big", b"x" * 5000, letter(topic=small))])
        code, output = run([], env(kafka_bootstrap, dead), capsys)
    finally:
        clients.delete_topics(kafka_bootstrap, [small])
    assert code == 1
    assert "sent: 0" in output and "failed: 1" in output and "MessageSizeTooLargeError" in output
