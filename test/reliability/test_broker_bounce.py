"""The broker goes away: stopped and restarted mid-stream, and down when the job starts. The job recovers or
fails loudly (exit 1, a message naming the broker) and recovers on restart; nothing is lost."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from deploy.local.stack.broker import Broker
from deploy.local.stack.clients import committed, end_offsets, produce
from deploy.local.stack.procs import REPO
from test.helpers.jobs import job_env
from test.helpers.streams import Tail, keyed_records

pytestmark = pytest.mark.reliability
DOWN_SECONDS = 20
# Spark's Kafka clients (log4j, in the job's log) losing the broker: the sink's producer, the source's admin client
# (driver: latest offsets) or consumers (executors). The committer's kafka-python lines do not match.
LOST_BROKER = r"\[(Producer|AdminClient|Consumer) clientId=[^\]]*\] Connection to node \S+ \(\S*:{port}\) could not be"


@pytest.fixture(scope="module")
def bounce_broker() -> Iterator[Broker]:
    """A broker of this module's own (ports 29294/29295): the shared one must never be bounced."""
    broker = Broker(REPO / ".local" / "rel-bounce", port=29294, controller_port=29295)
    broker.reset()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def create_topics(bootstrap: str, prefix: str) -> tuple[str, str, str]:
    suffix = str(time.time_ns())[-9:]
    topics = (f"{prefix}-in-{suffix}", f"{prefix}-result-{suffix}", f"{prefix}-dead-{suffix}")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topics[0], 2, 1), NewTopic(topics[1], 1, 1), NewTopic(topics[2], 1, 1)])
    finally:
        admin.close()
    return topics


@pytest.mark.timeout(1200)
def test_broker_bounce_mid_stream_and_start_while_down(bounce_broker, corpus, jobs, tmp_path):
    bootstrap = bounce_broker.bootstrap
    topics = create_topics(bootstrap, "bounce")
    records = keyed_records(corpus, 1500, prefix="bounce")
    produce(bootstrap, topics[0], records[:1000])
    env = job_env(bootstrap, topics, tmp_path / "ckpt", TRIGGER_INTERVAL="0 seconds", MAX_OFFSETS_PER_TRIGGER="50")
    job = jobs(env, "run-1")
    tail = Tail(bootstrap, topics[1], topics[2])
    tail.wait_until(lambda: tail.poll(0) >= 100, 300, "output before the bounce", still_ok=lambda: _assert_running(job))

    bounce_broker.stop()
    time.sleep(DOWN_SECONDS)
    bounce_broker.start()
    # The outage reached the job's own Kafka path, the sink and the source, not only the offsets committer.
    lost = {m.group(1) for m in re.finditer(LOST_BROKER.format(port=bounce_broker.port), job.log_path.read_text())}
    assert "Producer" in lost and lost & {"AdminClient", "Consumer"}, f"the job's Kafka clients saw no outage: {lost}"
    restarts = 0
    if not job.running():  # failed loudly: exit 1 and the query's failure in the log, then a restart picks up
        assert job.proc.returncode == 1, job.log()
        assert re.search(r"query \S+ failed", job.log_path.read_text()), job.log()  # not the committer's warning
        job, restarts = jobs(env, "run-2"), 1
    produce(bootstrap, topics[0], records[1000:])
    tail.wait_until(
        lambda: len(set(tail.uuids())) >= len(records),
        600,
        "every message after the bounce",
        still_ok=lambda: _assert_running(job),
    )
    # The committer failed while the broker was away and catches up: the group reaches the topic's end.
    deadline = time.monotonic() + 120
    while committed(bootstrap, env["KAFKA_CONSUMER_GROUP"]) != end_offsets(bootstrap, topics[0]):
        assert time.monotonic() < deadline, "offset commits did not resume after the broker came back"
        time.sleep(1)
    assert job.terminate() == 0, job.log()
    commit_errors = (
        sum(j.log_path.read_text().count("offsets-committer: step failed") for j in (job,)) if restarts == 0 else None
    )

    # Start while the broker is down: a quick, clear failure naming the setting, not a hang.
    bounce_broker.stop()
    started = time.monotonic()
    down = jobs(env, "while-down")
    assert down.proc.wait(timeout=120) == 1, down.log()
    took = time.monotonic() - started
    assert "start-up check failed" in down.log() and "KAFKA_BOOTSTRAP_SERVERS=" + bootstrap in down.log()
    bounce_broker.start()
    more = keyed_records(corpus, 300, prefix="after-down")
    produce(bootstrap, topics[0], more)
    final = jobs({**env, "TRIGGER_INTERVAL": "available-now"}, "after-down")
    assert final.proc.wait(timeout=600) == 0, final.log()
    expected = {k.decode() for k, _ in records + more}
    tail.wait_until(lambda: set(tail.uuids()) >= expected, 120, "every message after the restart")
    tail.poll(2)
    uuids = tail.uuids()
    tail.close()
    lost = expected - set(uuids)
    print(
        f"\nRELIABILITY broker-bounce: messages={len(expected)} down_seconds={DOWN_SECONDS} "
        f"job_restarts_needed={restarts} committer_errors_logged={commit_errors} lost={len(lost)} "
        f"duplicates={len(uuids) - len(set(uuids))} start_while_down_exit_after_s={took:.0f}"
    )
    assert not lost


def _assert_running(job):
    assert job.running(), job.log()
