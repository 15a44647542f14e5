"""Replay dead letters: re-send each selected one to its source topic as the original record.

A dead letter (app/schemas.py) is the original Kafka record, key, value and headers byte for byte, with the error
context appended as __ner.errors.* headers. Replay sends the same key and value with the original headers (every
__ner.errors.* header removed) and __ner.replay.count one higher; a letter replayed --max-replays times already is
skipped, so a message that keeps failing is not looped forever. The dead-letter topic is read without a consumer
group (nothing is committed), from its beginning up to the end offsets it has when the replay starts.

Exit code 0 when every selected letter was sent (skipped ones count as done), 1 when a send or the reading failed,
2 on bad options or settings. Connection settings are the service's (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_*...).
"""

import argparse
import contextlib
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from app.contract import Reason
from app.kafka.options import kafka_python_config, producer_max_request_size
from app.schemas import DEAD_LETTER_HEADER_PREFIX, REPLAY_COUNT_HEADER
from app.setting_lists import parse_timestamp_ms
from app.settings import Settings, SettingsError

PROG = "python -m app.kafka.replay"
CLIENT_ID = "ner-replay"
DEFAULT_MAX_REPLAYS = 3
# A record's header as kafka-python reads it: Kafka allows a null value.
Header = tuple[str, bytes | None]
_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
_INT = re.compile(r"-?\d{1,19}")
INCOMPLETE_SHOWN = 20  # incomplete letters listed by where their original is; the others are counted
PENDING_SENDS = 1000  # unacknowledged sends kept before the finished ones are tallied

# What became of a letter. NOT_SELECTED: the filters left it out; the skip kinds: selected but not re-sent.
SENT = "sent"
FAILED = "failed"
NOT_SELECTED = "not selected"
AT_MAX_REPLAYS = "at max replays"
INCOMPLETE = "incomplete"
BAD_COUNT = "unreadable replay count"
NO_TOPIC = "no source topic"
NULL_HEADER = "null header value"
EMPTY = "null key and value"
NO_REASON = "(none)"
_NOT_SKIPS = (SENT, FAILED, NOT_SELECTED)


class ReplayError(RuntimeError):
    """The dead-letter topic could not be read to its end offsets; the message says which and where."""


@dataclass(frozen=True)
class Selection:
    """Which letters to replay and where to; an empty filter selects every letter."""

    reasons: frozenset[str] = frozenset()
    partitions: frozenset[int] = frozenset()  # the source partitions (the partition header)
    since_ms: int | None = None  # failed_at >= since
    until_ms: int | None = None  # failed_at < until
    max_replays: int = DEFAULT_MAX_REPLAYS
    to: str | None = None  # instead of each letter's source topic


@dataclass(frozen=True)
class Resend:
    """Send the letter's key and value to `topic` with these headers."""

    topic: str
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Skip:
    """Do not send the letter: `why` is NOT_SELECTED or a skip kind, `detail` says more for a person."""

    why: str
    detail: str = ""


def context(headers: Iterable[Header]) -> dict[str, str]:
    """The letter's __ner.errors.* headers by short name (reason, topic, ...) as text; the last one wins."""
    return {
        name.removeprefix(DEAD_LETTER_HEADER_PREFIX): (value or b"").decode("utf-8", "replace")
        for name, value in headers
        if name.startswith(DEAD_LETTER_HEADER_PREFIX)
    }


def replay_count(headers: Iterable[Header]) -> int:
    """How many times the message was replayed already: 0 without the header, the largest if repeated;
    ValueError when one is not a decimal number."""
    counts = [
        (value or b"").decode("ascii", "replace").strip() for name, value in headers if name == REPLAY_COUNT_HEADER
    ]
    if bad := [c for c in counts if not c.isdigit()]:
        raise ValueError(f"{REPLAY_COUNT_HEADER}={bad[0][:20]!r} is not a count")
    return max((int(c) for c in counts), default=0)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and _INT.fullmatch(text.strip()) else None


def where(ctx: Mapping[str, str]) -> str:
    """The original's place, topic/partition/offset, from the letter's context."""
    return "/".join(ctx.get(name, "?") for name in ("topic", "partition", "offset"))


def selected(ctx: Mapping[str, str], selection: Selection) -> bool:
    """Whether the filters take this letter; a letter without the header a filter reads is left out by it."""
    if selection.reasons and ctx.get("reason") not in selection.reasons:
        return False
    if selection.partitions and _int(ctx.get("partition")) not in selection.partitions:
        return False
    if selection.since_ms is None and selection.until_ms is None:
        return True
    failed_at = _int(ctx.get("failed_at"))
    if failed_at is None:
        return False
    return (selection.since_ms is None or failed_at >= selection.since_ms) and (
        selection.until_ms is None or failed_at < selection.until_ms
    )


def plan(headers: Sequence[Header], selection: Selection, empty: bool = False) -> Resend | Skip:
    """What to do with one dead letter, from its headers (`empty`: its key and value are both null): re-send it,
    with the original headers and the next replay count, or skip it and why."""
    ctx = context(headers)
    if not selected(ctx, selection):
        return Skip(NOT_SELECTED)
    # The service leaves out value, then headers, then key: any part left out means the record is not the original.
    if dropped := [part.strip() for part in ctx.get("dropped", "").split(",") if part.strip()]:
        return Skip(INCOMPLETE, f"{where(ctx)} ({', '.join(dropped)} left out)")
    try:
        count = replay_count(headers)
    except ValueError as exc:
        return Skip(BAD_COUNT, str(exc))
    if count >= selection.max_replays:
        return Skip(AT_MAX_REPLAYS, f"replayed {count} times already")
    topic = selection.to or ctx.get("topic")
    if not topic:
        return Skip(NO_TOPIC, f"no {DEAD_LETTER_HEADER_PREFIX}topic header and no --to")
    if empty:
        return Skip(EMPTY, "Kafka clients cannot send a record without key and value")
    original = [
        (name, value)
        for name, value in headers
        if not name.startswith(DEAD_LETTER_HEADER_PREFIX) and name != REPLAY_COUNT_HEADER
    ]
    kept = [(name, value) for name, value in original if value is not None]
    if len(kept) < len(original):
        return Skip(NULL_HEADER, "kafka-python cannot send a header whose value is null")
    return Resend(topic, [*kept, (REPLAY_COUNT_HEADER, str(count + 1).encode())])


def bar(done: int, total: int, width: int = 30) -> str:
    """`\\r[#####     ] 512/1000`."""
    filled = width if total <= 0 else min(width, done * width // total)
    return f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total}"


class Progress:
    """The bar on a stream (None: no bar), redrawn at most every 0.1 s and at the end."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.drawn_at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.stream is None or (self.drawn_at is not None and now - self.drawn_at < 0.1 and done < total):
            return
        self.stream.write(bar(done, total))
        self.stream.flush()
        self.drawn_at = now

    def close(self) -> None:
        if self.stream is not None and self.drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Tally:
    """What a run did: letters per (dead-letter reason, outcome), and what a person needs to follow up."""

    read: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    targets: Counter[str] = field(default_factory=Counter)  # letters sent per topic
    incomplete: list[str] = field(default_factory=list)  # where their originals are, the first INCOMPLETE_SHOWN
    failures: Counter[str] = field(default_factory=Counter)  # error message -> letters

    def add(self, reason: str, outcome: str, detail: str = "") -> None:
        self.outcomes[reason, outcome] += 1
        if outcome == INCOMPLETE and len(self.incomplete) < INCOMPLETE_SHOWN:
            self.incomplete.append(detail)
        elif outcome == FAILED:
            self.failures[detail] += 1

    def total(self, *outcomes: str) -> int:
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome in outcomes)

    def skipped(self) -> Counter[str]:
        skips: Counter[str] = Counter()
        for (_, outcome), n in self.outcomes.items():
            if outcome not in _NOT_SKIPS:
                skips[outcome] += n
        return skips


def summary(tally: Tally, source: str, dry_run: bool, max_replays: int) -> str:
    """The report printed at the end: totals, then a line per dead-letter reason."""
    sent = "would send" if dry_run else "sent"
    skips = tally.skipped()
    lines = [f"{tally.read} dead letter(s) read from {source}" + (" (dry run: nothing sent)" if dry_run else "")]
    lines.append(f"{sent}: {tally.total(SENT)}" + "".join(f"\n  to {t}: {n}" for t, n in sorted(tally.targets.items())))
    lines.append(f"skipped: {sum(skips.values())}")
    for kind, n in sorted(skips.items()):
        lines.append(f"  {kind}{f' ({max_replays})' if kind == AT_MAX_REPLAYS else ''}: {n}")
    lines.append(f"not selected by the filters: {tally.total(NOT_SELECTED)}")
    if failures := tally.total(FAILED):
        lines.append(f"failed: {failures}")
        lines += [f"  {n} x {message}" for message, n in tally.failures.most_common()]
    reasons = sorted({reason for reason, _ in tally.outcomes})
    if reasons:
        width = max(len("reason"), *map(len, reasons))
        columns = (sent, "skipped", "not selected", "failed")
        lines.append(f"{'reason':<{width}}  " + "  ".join(columns))
        for reason in reasons:
            counts = (
                tally.outcomes[reason, SENT],
                sum(n for (r, o), n in tally.outcomes.items() if r == reason and o not in _NOT_SKIPS),
                tally.outcomes[reason, NOT_SELECTED],
                tally.outcomes[reason, FAILED],
            )
            lines.append(
                f"{reason:<{width}}  " + "  ".join(f"{n:>{len(c)}}" for n, c in zip(counts, columns, strict=True))
            )
    if tally.incomplete:
        lines.append("incomplete letters (replay the original from its source offset instead):")
        lines += [f"  {detail}" for detail in tally.incomplete]
        if more := skips[INCOMPLETE] - len(tally.incomplete):
            lines.append(f"  ... and {more} more")
    return "\n".join(lines)


def read_to_end(
    consumer: KafkaConsumer, topic: str, timeout_seconds: float, on_progress: Callable[[int, int], None]
) -> Iterator[Any]:
    """Every record of `topic` from the beginning up to the end offsets at the call (in order within a partition),
    without a group. ReplayError when the topic is missing or the reading stalls for the timeout."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise ReplayError(f"topic {topic!r} not found (or this user cannot see it)")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    timeout_ms = int(timeout_seconds * 1000)
    first = consumer.beginning_offsets(tps, timeout_ms=timeout_ms)
    ends = consumer.end_offsets(tps, timeout_ms=timeout_ms)
    for tp in tps:
        consumer.seek(tp, first[tp])
    reached = dict(first)
    pending = {tp for tp in tps if ends[tp] > first[tp]}
    consumer.pause(*(set(tps) - pending))
    total = sum(ends[tp] - first[tp] for tp in pending)
    on_progress(0, total)
    moved_at = time.monotonic()
    while pending:
        for tp, records in consumer.poll(timeout_ms=500).items():
            yield from (r for r in records if r.offset < ends[tp])
        for tp in list(pending):
            if (position := consumer.position(tp, timeout_ms=timeout_ms)) is None:
                continue
            position = min(position, ends[tp])
            if position != reached[tp]:
                reached[tp], moved_at = position, time.monotonic()
            if position >= ends[tp]:
                pending.discard(tp)
                consumer.pause(tp)  # records written since the start are not replayed
        on_progress(sum(reached[tp] - first[tp] for tp in tps), total)
        if pending and time.monotonic() - moved_at > timeout_seconds:
            stuck = ", ".join(f"{tp.partition} at {reached[tp]} of {ends[tp]}" for tp in sorted(pending))
            raise ReplayError(f"reading {topic} made no progress for {timeout_seconds:g}s (partitions {stuck})")


def _error(exc: BaseException) -> str:
    text = str(exc)
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"


def _settle(pending: list[tuple[Any, str, str]], tally: Tally, wait: float | None) -> list[tuple[Any, str, str]]:
    """Tally the finished sends, or with `wait` seconds every one (a send unfinished by then failed); the rest
    stay pending."""
    deadline = None if wait is None else time.monotonic() + wait
    left = []
    for future, reason, topic in pending:
        if not future.is_done and deadline is not None:
            with contextlib.suppress(KafkaError):  # the future keeps its error
                future.get(timeout=max(0.0, deadline - time.monotonic()))
        if not future.is_done and deadline is None:
            left.append((future, reason, topic))
        elif future.is_done and future.exception is None:
            tally.add(reason, SENT)
            tally.targets[topic] += 1
        else:
            error = _error(future.exception) if future.is_done else f"not acknowledged within {wait:g}s"
            tally.add(reason, FAILED, f"to {topic}: {error}")
    return left


def replay(
    settings: Settings,
    source: str,
    selection: Selection,
    tally: Tally,
    dry_run: bool = False,
    timeout_seconds: float = 30.0,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> None:
    """Read `source` to its end offsets and re-send the selected letters (count them only with `dry_run`); the
    outcome goes to `tally`, kept when this raises (ReplayError, KafkaError) half way."""
    timeout_ms = int(timeout_seconds * 1000)
    config = kafka_python_config(settings)
    timeouts = {"bootstrap_timeout_ms": timeout_ms, "request_timeout_ms": timeout_ms}
    consumer = KafkaConsumer(
        client_id=CLIENT_ID, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **timeouts, **config
    )
    producer = None
    pending: list[tuple[Any, str, str]] = []
    topics: dict[str, bool] = {}
    try:
        if not dry_run:
            producer = KafkaProducer(
                client_id=CLIENT_ID,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_block_ms=timeout_ms,
                max_request_size=producer_max_request_size(settings),
                **timeouts,
                **config,
            )
        for record in read_to_end(consumer, source, timeout_seconds, progress):
            tally.read += 1
            headers = list(record.headers or ())
            reason = context(headers).get("reason") or NO_REASON
            action = plan(headers, selection, empty=record.key is None and record.value is None)
            if isinstance(action, Skip):
                tally.add(reason, action.why, action.detail)
                continue
            if action.topic not in topics:  # a missing topic would block each send for max_block_ms
                topics[action.topic] = bool(consumer.partitions_for_topic(action.topic))
            if not topics[action.topic]:
                tally.add(reason, FAILED, f"topic {action.topic!r} not found (or this user cannot see it)")
            elif producer is None:
                tally.add(reason, SENT)
                tally.targets[action.topic] += 1
            else:
                try:
                    future = producer.send(action.topic, key=record.key, value=record.value, headers=action.headers)
                except (KafkaError, ValueError, TypeError) as exc:  # refused before sending: too large, bad topic
                    tally.add(reason, FAILED, f"to {action.topic}: {_error(exc)}")
                    continue
                pending.append((future, reason, action.topic))
                if len(pending) >= PENDING_SENDS:
                    pending = _settle(pending, tally, wait=None)
    finally:
        consumer.close()
        if producer is not None:
            # kafka-python's flush gives up early when a batch was split (UnknownError 'Future not done'):
            # _settle waits for each send itself.
            with contextlib.suppress(KafkaError):
                producer.flush(timeout=timeout_seconds * 4)
            _settle(pending, tally, wait=timeout_seconds * 4)
            producer.close(timeout=timeout_seconds)


def _time(text: str) -> int:
    try:
        return parse_timestamp_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}")
        return int(text)

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 3600]")
    return value


def _topic(text: str) -> str:
    if not _TOPIC.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not a Kafka topic name ([a-zA-Z0-9._-], 1-249 characters)")
    return text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options; SystemExit(2) with a message naming the option for a bad one."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--from", dest="source", type=_topic, metavar="TOPIC", help="default: DEAD_LETTER_TOPIC")
    parser.add_argument("--to", type=_topic, metavar="TOPIC", help="send here instead of each letter's source topic")
    parser.add_argument(
        "--reason", action="append", default=[], metavar="R", help="only letters with this reason (repeatable)"
    )
    parser.add_argument(
        "--partition",
        action="append",
        type=_at_least(0),
        default=[],
        metavar="N",
        help="only letters from this source partition (repeatable)",
    )
    parser.add_argument(
        "--since", type=_time, metavar="TIME", help="only letters failed at or after TIME (ISO 8601 with zone, or ms)"
    )
    parser.add_argument("--until", type=_time, metavar="TIME", help="only letters failed before TIME")
    parser.add_argument(
        "--max-replays",
        type=_at_least(1),
        default=DEFAULT_MAX_REPLAYS,
        metavar="N",
        help=f"skip letters replayed N times already (default {DEFAULT_MAX_REPLAYS})",
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be sent, send nothing")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="for connecting, each Kafka request and a stalled read (default 30)",
    )
    args = parser.parse_args(argv)
    if args.since is not None and args.until is not None and args.since >= args.until:
        parser.error("--since must be before --until")
    return args


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.load(environ)
    except SettingsError as exc:
        print(f"bad settings: {exc}", file=sys.stderr)
        return 2
    source = args.source or settings.kafka.dead_letter_topic
    if args.to == source:
        print(f"{PROG}: error: --to must differ from the dead-letter topic {source}", file=sys.stderr)
        return 2
    known = {str(r) for r in Reason}
    for reason in args.reason:
        if reason not in known:
            print(f"note: --reason {reason!r} is not one of the service's reasons", file=sys.stderr)
    selection = Selection(
        reasons=frozenset(args.reason),
        partitions=frozenset(args.partition),
        since_ms=args.since,
        until_ms=args.until,
        max_replays=args.max_replays,
        to=args.to,
    )
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = Progress(sys.stderr if show else None)
    tally = Tally()
    error = None
    try:
        replay(settings, source, selection, tally, args.dry_run, args.timeout, progress)
    except (ReplayError, KafkaError) as exc:
        error = f"{PROG}: error on {settings.kafka.bootstrap_servers}: {_error(exc)}"
    except KeyboardInterrupt:
        error = f"{PROG}: interrupted (the summary counts what was done)"
    finally:
        progress.close()
    if tally.read or not error:  # nothing read because Kafka could not be reached: the error alone says it
        print(summary(tally, source, args.dry_run, args.max_replays))
    if error:
        print(error, file=sys.stderr)
    return 1 if error or tally.total(FAILED) else 0


if __name__ == "__main__":
    sys.exit(main())
