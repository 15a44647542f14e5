"""Data loss is loud: records deleted before the job read them fail the query (failOnDataLoss) with exit code 1,
and the documented recovery (one run with FAIL_ON_DATA_LOSS=false) resumes from the earliest offset left."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, TopicPartition

from deploy.local.stack.clients import produce
from test.helpers.jobs import job_env
from test.helpers.streams import Tail, keyed_records

pytestmark = pytest.mark.reliability


@pytest.mark.timeout(900)
def test_deleted_unread_records_fail_the_query_loudly(corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    records = keyed_records(corpus, 300, prefix="loss")
    produce(kafka_bootstrap, topics[0], records[:100])
    env = job_env(kafka_bootstrap, topics, tmp_path / "ckpt", TRIGGER_INTERVAL="available-now")
    first = jobs(env, "first")
    assert first.proc.wait(timeout=600) == 0, first.log()

    # While the job is stopped: 200 more arrive, and retention (here: an explicit delete) removes 150 unread ones.
    produce(kafka_bootstrap, topics[0], records[100:])
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_records({TopicPartition(topics[0], 0): 250})
    finally:
        admin.close()

    failing = jobs(env, "failing")
    assert failing.proc.wait(timeout=600) == 1, failing.log()
    log = failing.log_path.read_text(errors="replace")
    assert "ERROR app.spark.supervisor: query ner failed" in log
    assert "offset(s):" not in log  # a data-loss failure is not one message: nothing quarantined
    assert "Some data may have been lost" in log and "failOnDataLoss" in log, log[-3000:]

    # The recovery the runbook gives: accept the loss once, then back to failing on loss.
    recovery = jobs({**env, "FAIL_ON_DATA_LOSS": "false"}, "recovery")
    assert recovery.proc.wait(timeout=600) == 0, recovery.log()
    tail = Tail(kafka_bootstrap, topics[1], topics[2])
    tail.wait_until(lambda: tail.poll(0) >= 150, 60, "the first 100 and the 50 left")
    tail.poll(2)
    tail.close()
    got = set(tail.uuids())
    want_kept = {k.decode() for k, _ in records[:100] + records[250:]}
    lost = {k.decode() for k, _ in records[100:250]}
    assert got == want_kept and not got & lost
    print(
        f"\nRELIABILITY data-loss: produced=300 deleted_unread=150 exit_code_on_loss=1 "
        f"processed_after_recovery={len(got) - 100}"
    )
    again = jobs(env, "after")  # FAIL_ON_DATA_LOSS back to true: nothing new, a clean run
    assert again.proc.wait(timeout=600) == 0, again.log()
