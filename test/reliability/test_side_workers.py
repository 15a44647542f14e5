"""Side workers under faults: a Pushgateway that is down, then hangs, and offset commits the broker refuses. The
query keeps processing, the failures are counted (and pushed once the Pushgateway answers), commits resume."""

from __future__ import annotations

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kafka import KafkaConsumer

from deploy.local.stack.clients import committed, produce
from test.helpers.jobs import job_env
from test.helpers.streams import Tail, keyed_records

pytestmark = pytest.mark.reliability


class FakePushgateway:
    """Accepts pushes on a fixed port: `hang` holds each request past the client's 10 s timeout, else 200."""

    def __init__(self, port: int) -> None:
        self.hang = threading.Event()
        self.release = threading.Event()
        self.bodies: list[str] = []
        self.hung = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if outer.hang.is_set():
                    outer.hung += 1
                    outer.release.wait(15)
                else:
                    outer.bodies.append(body)
                self.send_response(200)
                self.end_headers()

            do_POST = do_PUT

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def last(self, name: str) -> float:
        found = re.findall(rf"^{name} ([0-9.e+]+)$", self.bodies[-1], re.M) if self.bodies else []
        return float(found[0]) if found else 0.0

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GroupMember:
    """A live member of the job's consumer group: the broker then refuses the committer's offset commits."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self._consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._consumer.poll(200)

    def leave(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


@pytest.mark.timeout(900)
def test_query_keeps_going_when_pushgateway_and_commits_fail(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    topics = (kafka_topics("input", 2), kafka_topics("result", 1), kafka_topics("dead", 1))
    records = keyed_records(corpus, 1500, prefix="side")
    produce(kafka_bootstrap, topics[0], records)
    port = free_port()  # nothing listens yet: the Pushgateway is down
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        TRIGGER_INTERVAL="0 seconds",
        MAX_OFFSETS_PER_TRIGGER="50",
        PUSHGATEWAY_URL=f"http://127.0.0.1:{port}",
        METRICS_PUSH_INTERVAL_SECONDS="1",
    )
    member = GroupMember(kafka_bootstrap, env["KAFKA_CONSUMER_GROUP"], topics[2])
    job = jobs(env)
    tail = Tail(kafka_bootstrap, topics[1], topics[2])

    def up() -> None:
        assert job.running(), job.log()

    tail.wait_until(lambda: tail.poll(0) >= 100, 300, "results while the Pushgateway is down", still_ok=up)
    gateway = FakePushgateway(port)
    try:
        gateway.hang.set()
        during_hang = tail.poll(0)
        tail.wait_until(
            lambda: gateway.hung >= 1 and tail.poll(0) >= during_hang + 150,
            300,
            "results while pushes hang",
            still_ok=up,
        )
        assert not committed(kafka_bootstrap, env["KAFKA_CONSUMER_GROUP"]).get((topics[0], 0))
        member.leave()
        gateway.hang.clear()
        gateway.release.set()
        tail.wait_until(
            lambda: gateway.last("ner_offset_commits_total") >= 1, 180, "commits resumed and pushed", still_ok=up
        )
        tail.wait_until(lambda: len(set(tail.uuids())) >= len(records), 600, "every message", still_ok=up)
        push_failures = gateway.last("ner_metrics_push_failures_total")
        commit_failures = gateway.last("ner_offset_commit_failures_total")
        assert push_failures >= 2  # refused, then timed out
        assert commit_failures >= 1
        assert committed(kafka_bootstrap, env["KAFKA_CONSUMER_GROUP"])
        assert job.terminate() == 0, job.log()
    finally:
        gateway.close()
    log = job.log_path.read_text(errors="replace")
    assert "metrics-pusher: step failed" in log and "offsets-committer: step failed" in log
    assert {u.encode() for u in tail.uuids()} >= {k for k, _ in records}
    print(
        f"\nRELIABILITY side-workers: messages={len(records)} lost=0 push_failures={push_failures:.0f} "
        f"commit_failures={commit_failures:.0f} hung_pushes={gateway.hung} pushes_received={len(gateway.bodies)}"
    )
