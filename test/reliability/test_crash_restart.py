"""kill -9 the driver (or its JVM) at random moments, restart from the same checkpoint: nothing lost, duplicates
bounded by one micro-batch per crash, and every result identical to a clean run of the same NER functions."""

from __future__ import annotations

import collections
import json
import os
import random
import time

import pytest

from app.inference.ner import extract_entities
from test.helpers.jobs import Backlog
from test.helpers.streams import keyed_records

pytestmark = pytest.mark.reliability


def run_crashes(corpus, nlp, kafka_bootstrap, kafka_topics, jobs, tmp_path, n: int, crashes: int, per_batch: int):
    seed = int(os.environ.get("RELIABILITY_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    records = keyed_records(corpus, n)
    for i in range(0, n, 50):  # 2% bad input: those uuids must reach the dead-letter topic, keyed by uuid
        records[i] = (records[i][0], b'{"uuid": "' + records[i][0] + b'", "text": ')
    stream = Backlog.make(kafka_bootstrap, kafka_topics, tmp_path / "ckpt", records, per_batch)
    tail = stream.tail
    duplicates_after = []
    for crash in range(crashes):
        job = jobs(stream.env, f"run-{crash}")
        # Kill mid-stream: once this run has written something, after a random further delay.
        stream.wait_for_output(job, tail.poll(0), f"run {crash} writes output")
        time.sleep(rng.uniform(0.0, 3.0))
        target = job.pid if crash % 2 == 0 else job.jvm_pid()  # the Python driver, or the JVM under it
        assert target is not None and job.running(), job.log()
        orphans = job.kill9(target)
        assert not orphans, f"processes left after kill -9 of {target}: {orphans}"
        tail.poll(2)
        duplicates_after.append(len(tail.sources()) - len(set(tail.sources())))
        assert len(set(tail.sources())) < n, "the stream ended before the crash: use more messages"

    # The last run drains the rest in one go: the replayed batch keeps its logged offsets whatever the limit.
    inputs, sources = stream.drain(jobs)
    expected = {k.decode() for k, _ in records}

    # A message is its source offset: count and deduplicate by it, not by uuid.
    lost = inputs - set(sources)
    duplicates = len(sources) - len(set(sources))
    # What each restart added: the duplicates seen at the next kill (or at the end) minus those seen at its own.
    per_crash = [b - a for a, b in zip(duplicates_after, [*duplicates_after[1:], duplicates], strict=True)]
    print(
        f"\nRELIABILITY crash-restart: messages={n} crashes={crashes} maxOffsetsPerTrigger={per_batch} "
        f"seed={seed} lost={len(lost)} duplicates={duplicates} duplicates_per_restart={per_crash}"
    )
    assert not lost
    assert len(sources) - duplicates == n == len(inputs)  # nothing extra either
    assert duplicates_after[0] == 0 and all(d <= per_batch for d in per_crash), per_crash
    assert duplicates <= crashes * per_batch

    texts = {k.decode(): json.loads(v)["text"] for k, v in records if v.endswith(b"}")}
    distinct = sorted(set(texts.values()))
    reference = dict(zip(distinct, extract_entities(nlp, distinct), strict=True))
    by_uuid = collections.defaultdict(list)
    for r in tail.results:
        by_uuid[r["value"]["uuid"]].append(r["value"]["entities"])
    assert set(by_uuid) == set(texts)
    for uuid, copies in by_uuid.items():
        want = [e.__dict__ for e in reference[texts[uuid]]]
        assert all(c == want for c in copies), uuid  # a replayed batch gives the same entities
    assert {d["key"].decode() for d in tail.dead_letters} == expected - set(texts)
    assert {d["value"]["reason"] for d in tail.dead_letters} == {"invalid_json"}


@pytest.mark.timeout(900)
def test_crash_and_restart_loses_nothing(corpus, nlp, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    run_crashes(corpus, nlp, kafka_bootstrap, kafka_topics, jobs, tmp_path, n=2_000, crashes=2, per_batch=100)


@pytest.mark.slow
@pytest.mark.reliability_full
@pytest.mark.timeout(3600)
def test_crash_and_restart_loses_nothing_full(corpus, nlp, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    run_crashes(corpus, nlp, kafka_bootstrap, kafka_topics, jobs, tmp_path, n=20_000, crashes=5, per_batch=500)
