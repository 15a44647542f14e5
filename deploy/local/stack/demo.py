"""`make demo`: start what is not running (broker, job), send deploy/local/input.json, print the results as they
arrive, then stop what it started."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from . import clients
from .broker import Broker
from .job import BackgroundJob
from .monitoring import Monitoring
from .procs import say

# Control characters (C0 but tab and newline, DEL, C1): a key or value from the topic could otherwise drive the
# terminal (escape sequences, cursor moves). Shown as \xNN instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\n\r\t]")


def printable(text: str, multiline: bool = False) -> str:
    """Text from a topic made safe to print: control characters (and line breaks, unless `multiline`) escaped."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if multiline else _LINE_BREAKS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def job_env(env: Mapping[str, str]) -> dict[str, str]:
    """The job's environment: with the local monitoring stack up, push metrics to its Pushgateway unless told."""
    out = dict(env)
    stack = Monitoring.from_env({k: v for k, v in env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"})
    if not out.get("PUSHGATEWAY_URL") and stack.status_lines()[1]:
        out["PUSHGATEWAY_URL"] = stack.url("pushgateway")
        say("app", f"monitoring stack is up: pushing metrics to {out['PUSHGATEWAY_URL']}")
    return out


def print_records(bootstrap: str, topic: str, start: str | Mapping[int, int], count: int, timeout: float) -> int:
    """Print a topic's records as they arrive (JSON values indented) until `count` arrived (0: until the
    timeout); exit code 1 when fewer came."""
    consumer = clients.consumer_at(bootstrap, [topic], start)
    seen, deadline = 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and (count == 0 or seen < count):
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    value = record.value.decode("utf-8", "replace") if record.value is not None else "null"
                    try:
                        value = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
                    except ValueError:
                        pass
                    key = printable(record.key.decode("utf-8", "replace")) if record.key else None
                    # A dead letter's context (and any header) printed after the value, one per line.
                    headers = "".join(
                        f"\n  {printable(name)}: {printable((v or b'').decode('utf-8', 'replace'))}"
                        for name, v in record.headers or []
                    )
                    print(
                        f"--- {record.topic}[{record.partition}]@{record.offset} key={key}\n"
                        f"{printable(value, True)}{headers}",
                        flush=True,
                    )
                    seen += 1
    finally:
        consumer.close()
    if count and seen < count:
        print(f"only {seen} of {count} records arrived within {timeout:.0f} s", file=sys.stderr)
        return 1
    return 0


def demo(env: Mapping[str, str]) -> int:
    """Start what is not running (broker, job), send the demo input, print the results, stop what it started."""
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    topics = [
        env.get("INPUT_TOPIC", "input"),
        env.get("RESULT_TOPIC", "result"),
        env.get("DEAD_LETTER_TOPIC", "dead-letter"),
    ]
    source = Path(env.get("DEMO_INPUT", "deploy/local/input.json"))
    broker, job = Broker.from_env(env), BackgroundJob.from_env(env)
    started: list[Callable[[], None]] = []
    try:
        if broker.running() is None:
            broker.start()
            started.append(broker.stop)
        clients.create_topics(bootstrap, topics, int(env.get("PARTITIONS", "2")))
        start = {p: o for (_, p), o in clients.end_offsets(bootstrap, topics[1]).items()}
        if job.running() is None:
            job.start(job_env({**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}))
            started.append(job.stop)
        records = clients.jsonl_records(source)
        clients.produce(bootstrap, topics[0], records)
        say("demo", f"produced {len(records)} messages to {topics[0]}; results from topic {topics[1]}:")
        code = print_records(bootstrap, topics[1], start, len(records), float(env.get("DEMO_TIMEOUT", "300")))
        # Stop only once the job has finished (and committed) the batch: stopping mid-batch is safe (the
        # checkpoint re-runs it) but would send these results again on the next start.
        if not clients.wait_committed(bootstrap, env.get("KAFKA_CONSUMER_GROUP", "ner-service"), topics[0], 60):
            say("demo", "the job has not committed its last batch yet; it will re-run it on its next start")
        say("demo", "done; stopping what the demo started")
        return code
    finally:
        for stop in reversed(started):
            stop()
