"""`python -m deploy.local.stack AREA COMMAND`: the entry point the Makefile targets and the thin shell scripts call.

  kafka {jars|start|stop|status|list-topics|create-topics [--partitions N] TOPIC...|delete-topics TOPIC...}
  monitoring {start|stop|status|render}      (start also starts the local broker when it is the one Burrow reads)
  app {start|stop|status|logs [N]}           the job in the background
  cluster {start|stop|status}                a local Spark standalone cluster
  demo                                       broker + job, send deploy/local/input.json, print the results, stop
  down                                       stop the job, the monitoring stack and the broker (what was recorded)
  produce --topic T FILE | consume --topic T [...] | end-offsets --topic T | wait-committed --topic T --group G

Settings come from the environment (the variables each area's `from_env` names); exit 1 on failure, 2 on usage.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from kafka.errors import KafkaError

from . import clients, procs
from .broker import Broker
from .cluster import Cluster
from .demo import demo, job_env, print_records
from .job import BackgroundJob
from .monitoring import Monitoring
from .procs import StackError, say


def _print_or_fail(line: str | None, not_running: str) -> int:
    print(line or not_running)
    return 0 if line else 1


def kafka(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    broker = Broker.from_env(env)
    actions: dict[str, Callable[[], object]] = {
        "jars": broker.jars,
        "start": broker.start,
        "stop": broker.stop,
        "list-topics": lambda: print("\n".join(clients.list_topics(broker.bootstrap))),
        "create-topics": lambda: clients.create_topics(broker.bootstrap, args.topics, args.partitions),
        "delete-topics": lambda: clients.delete_topics(broker.bootstrap, args.topics),
    }
    if args.command == "status":
        return _print_or_fail(broker.status(), f"not running ({broker.state_dir})")
    actions[args.command]()
    return 0


def ensure_broker(bootstrap: str, env: Mapping[str, str]) -> None:
    """Start the local broker when it is the one at `bootstrap` and does not answer; any other broker must."""
    if clients.broker_ready(bootstrap):
        return
    broker = Broker.from_env(env)
    first = clients.servers(bootstrap)[0]
    if first.replace("localhost:", "127.0.0.1:", 1) != broker.bootstrap.replace("localhost:", "127.0.0.1:", 1):
        raise StackError(f"no Kafka broker answers at {bootstrap}")
    say("monitoring", f"no broker at {bootstrap}: starting the local one (make kafka-down stops it)")
    broker.start()


def monitoring(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    stack = Monitoring.from_env(env)
    if args.command == "start":
        ensure_broker(stack.bootstrap, env)
        stack.start()
    elif args.command == "stop":
        stack.stop()
    elif args.command == "render":
        print(stack.render())
    else:
        lines, ok = stack.status_lines()
        print("\n".join(lines))
        return 0 if ok else 1
    return 0


def app(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    job = BackgroundJob.from_env(env)
    if args.command == "start":
        job.start(job_env(env))
    elif args.command == "stop":
        job.stop()
    elif args.command == "logs":
        print(procs.tail(job.log_path, args.lines))
    else:
        pid = job.running()
        return _print_or_fail(None if pid is None else f"running (pid {pid})", "not running")
    return 0


def cluster(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    spark = Cluster.from_env(env)
    if args.command == "status":
        return _print_or_fail(spark.status(), "not running")
    spark.start() if args.command == "start" else spark.stop()
    return 0


def down(env: Mapping[str, str]) -> int:
    """Stop the job, the monitoring stack and the broker; each is tried even when one before it fails."""
    code = 0
    for stop in (BackgroundJob.from_env(env).stop, Monitoring.from_env(env).stop, Broker.from_env(env).stop):
        try:
            stop()
        except (StackError, OSError) as exc:
            print(f"stack: error: {exc}", file=sys.stderr)
            code = 1
    return code


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m deploy.local.stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bootstrap", default=None, help="for the client commands [env: KAFKA_BOOTSTRAP_SERVERS]")
    sub = p.add_subparsers(dest="area", required=True)
    k = sub.add_parser("kafka").add_subparsers(dest="command", required=True)
    for name in ("jars", "start", "stop", "status", "list-topics"):
        k.add_parser(name)
    create = k.add_parser("create-topics")
    create.add_argument("--partitions", type=int, default=1)
    create.add_argument("topics", nargs="+")
    k.add_parser("delete-topics").add_argument("topics", nargs="+")
    m = sub.add_parser("monitoring")
    m.add_argument("command", choices=["start", "stop", "status", "render"])
    a = sub.add_parser("app")
    a.add_argument("command", choices=["start", "stop", "status", "logs"])
    a.add_argument("lines", nargs="?", type=int, default=50)
    c = sub.add_parser("cluster")
    c.add_argument("command", choices=["start", "stop", "status"])
    sub.add_parser("demo")
    sub.add_parser("down")
    produce = sub.add_parser("produce", help="send a JSON Lines file, keyed by uuid")
    produce.add_argument("--topic", required=True)
    produce.add_argument("file", type=Path)
    consume = sub.add_parser("consume", help="print a topic's records as they arrive")
    consume.add_argument("--topic", required=True)
    consume.add_argument("--count", type=int, default=0, help="stop after N records (0: until the timeout)")
    consume.add_argument("--timeout", type=float, default=3600.0)
    consume.add_argument("--from-beginning", action="store_true")
    sub.add_parser("end-offsets").add_argument("--topic", required=True)
    wait = sub.add_parser("wait-committed", help="until a group has committed a topic's end offsets")
    wait.add_argument("--topic", required=True)
    wait.add_argument("--group", required=True)
    wait.add_argument("--timeout", type=float, default=60.0)
    return p


def client_command(args: argparse.Namespace, bootstrap: str) -> int:
    if args.area == "produce":
        sent = clients.produce(bootstrap, args.topic, clients.jsonl_records(args.file))
        print(f"produced {sent} messages to {args.topic}", file=sys.stderr)
        return 0
    if args.area == "consume":
        return print_records(
            bootstrap, args.topic, "beginning" if args.from_beginning else "end", args.count, args.timeout
        )
    if args.area == "end-offsets":
        print(json.dumps({str(p): o for (_, p), o in clients.end_offsets(bootstrap, args.topic).items()}))
        return 0
    if clients.wait_committed(bootstrap, args.group, args.topic, args.timeout):
        return 0
    print(f"group {args.group} did not commit {args.topic}'s end offsets within {args.timeout:.0f} s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    args = parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, so that what a command started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    areas: dict[str, Callable[[argparse.Namespace, Mapping[str, str]], int]] = {
        "kafka": kafka,
        "monitoring": monitoring,
        "app": app,
        "cluster": cluster,
    }
    try:
        if args.area in areas:
            return areas[args.area](args, env)
        if args.area in ("demo", "down"):
            return demo(env) if args.area == "demo" else down(env)
        return client_command(args, args.bootstrap or env.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092")
    except (StackError, KafkaError) as exc:  # a failed step or a Kafka refusal: its message, not a traceback
        print(f"stack: error: {exc}", file=sys.stderr)
        return 1
