"""Produce JSON Lines to a topic, or print a topic's records as they arrive (the demo's and make's helper).

  python deploy/local/kafka_tool.py produce --topic input FILE
  python deploy/local/kafka_tool.py consume --topic result [--count N] [--timeout S] [--from-beginning]
  python deploy/local/kafka_tool.py wait-committed --topic input --group ner-service [--timeout S]
"""

import argparse
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def produce(args: argparse.Namespace) -> int:
    producer = KafkaProducer(bootstrap_servers=args.bootstrap.split(","), acks="all", linger_ms=5)
    sent = 0
    with open(args.file, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            if not line.strip():
                continue
            key = None
            try:
                key = str(json.loads(line).get("uuid")).encode()
            except (ValueError, AttributeError):
                pass  # not JSON: sent as is, the job dead-letters it
            producer.send(args.topic, key=key, value=line)
            sent += 1
    producer.flush()
    producer.close()
    print(f"produced {sent} messages to {args.topic}", file=sys.stderr)
    return 0


def consume(args: argparse.Namespace) -> int:
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap.split(","), enable_auto_commit=False)
    partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic) or [])]
    if not partitions:
        print(f"topic {args.topic!r} does not exist", file=sys.stderr)
        return 1
    consumer.assign(partitions)
    if args.from_beginning:
        consumer.seek_to_beginning()
    elif args.start_offsets:
        for tp in partitions:
            consumer.seek(tp, json.loads(args.start_offsets).get(str(tp.partition), 0))
    else:
        consumer.seek_to_end()
    seen, deadline = 0, time.monotonic() + args.timeout
    while time.monotonic() < deadline and (args.count == 0 or seen < args.count):
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                value = record.value.decode("utf-8", "replace")
                try:
                    value = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
                except ValueError:
                    pass
                key = record.key.decode("utf-8", "replace") if record.key else None
                print(f"--- {record.topic}[{record.partition}]@{record.offset} key={key}\n{value}", flush=True)
                seen += 1
    consumer.close()
    if args.count and seen < args.count:
        print(f"only {seen} of {args.count} records arrived within {args.timeout:.0f} s", file=sys.stderr)
        return 1
    return 0


def end_offsets(args: argparse.Namespace) -> int:
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap.split(","))
    partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic) or [])]
    ends = consumer.end_offsets(partitions)
    print(json.dumps({str(tp.partition): off for tp, off in ends.items()}))
    consumer.close()
    return 0


def wait_committed(args: argparse.Namespace) -> int:
    """Wait until a consumer group has committed the topic's end offsets (the job finished its last batch)."""
    from kafka import KafkaAdminClient

    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap.split(","))
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap.split(","))
    partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic) or [])]
    ends = consumer.end_offsets(partitions)
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            committed = admin.list_group_offsets({args.group: None}).get(args.group, {})
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                return 0
            time.sleep(0.5)
    finally:
        consumer.close()
        admin.close()
    print(f"group {args.group} did not commit {args.topic}'s end offsets within {args.timeout:.0f} s", file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="localhost:9092")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--topic", required=True)
    p.add_argument("file")
    c = sub.add_parser("consume")
    c.add_argument("--topic", required=True)
    c.add_argument("--count", type=int, default=0, help="stop after N records (0: until the timeout)")
    c.add_argument("--timeout", type=float, default=3600.0)
    c.add_argument("--from-beginning", action="store_true")
    c.add_argument("--start-offsets", default="", help='JSON {"partition": offset} to start from')
    e = sub.add_parser("end-offsets")
    e.add_argument("--topic", required=True)
    w = sub.add_parser("wait-committed")
    w.add_argument("--topic", required=True)
    w.add_argument("--group", required=True)
    w.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    commands = {"produce": produce, "consume": consume, "end-offsets": end_offsets, "wait-committed": wait_committed}
    return commands[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
