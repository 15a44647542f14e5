"""Messages that attack the process running the model: a crash or an unbounded allocation costs that message
alone, a worker killed outside the inference sandbox is quarantined instead of a crash loop, and a quadratic text
does not hold the messages behind it. The hostile models are real spaCy packages built by the test."""

from __future__ import annotations

import json
import time

import pytest

from deploy.local.stack.clients import produce
from deploy.local.stack.procs import rss_bytes
from test.helpers.hostile_model import MARK, build
from test.helpers.jobs import job_env
from test.helpers.streams import Tail

pytestmark = pytest.mark.reliability
# Per Python process (Spark's worker and its inference process): the default INFERENCE_MEMORY_MB, the README's bound.
MAX_WORKER_RSS_BYTES = 2048 * 2**20


def _doc(i: int, text: str = "Barack Obama visited Paris with Angela Merkel.") -> tuple[bytes, bytes]:
    uuid = f"p-{i:04d}"
    return uuid.encode(), json.dumps({"uuid": uuid, "text": text, "lang": "en"}).encode()


def _run_hostile(kafka_bootstrap, kafka_topics, jobs, tmp_path, action: str, **settings: str):
    model = build(tmp_path / "models", f"hostile_{action}_model", action)
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    records = [_doc(i) for i in range(40)]
    records[17] = _doc(17, f"Barack Obama says {MARK} in Paris.")
    produce(kafka_bootstrap, topics[0], records)
    env = job_env(
        kafka_bootstrap,
        topics,
        tmp_path / "ckpt",
        TRIGGER_INTERVAL="0 seconds",
        MAX_OFFSETS_PER_TRIGGER="10",
        SPACY_MODELS=f"en={model}",
        PYTHONPATH=str(tmp_path / "models"),
        **settings,
    )
    job = jobs(env)
    tail = Tail(kafka_bootstrap, topics[1], topics[2])

    def up() -> None:
        assert job.running(), job.log()

    tail.wait_until(lambda: len(set(tail.sources())) >= len(records), 600, "every message routed", still_ok=up)
    # Back to full speed: messages sent afterwards come through.
    later = [_doc(i) for i in range(100, 110)]
    produce(kafka_bootstrap, topics[0], later)
    tail.wait_until(
        lambda: len(set(tail.sources())) >= len(records) + len(later), 300, "messages after it", still_ok=up
    )
    tail.poll(1)
    assert job.terminate() == 0, job.log()
    tail.close()
    offsets = [s[2] for s in tail.sources()]
    assert sorted(set(offsets)) == list(range(len(records) + len(later)))
    if settings.get("OUTPUT_GUARANTEE") == "exactly-once":  # the restart re-runs the failed batch: nothing twice
        assert len(offsets) == len(set(offsets)), sorted(offsets)
    (dead,) = tail.dead_letters
    assert dead["value"]["source"]["offset"] == 17 and dead["key"] == b"p-0017"
    assert {r["value"]["uuid"] for r in tail.results} == {k.decode() for k, _ in records + later} - {"p-0017"}
    return dead["value"], job


@pytest.mark.timeout(900)
@pytest.mark.parametrize("action", ["kill", "allocate"])
def test_a_component_that_kills_or_exhausts_its_process_costs_one_message(
    kafka_bootstrap, kafka_topics, jobs, tmp_path, action
):
    dead, _ = _run_hostile(kafka_bootstrap, kafka_topics, jobs, tmp_path, action, INFERENCE_MEMORY_MB="1500")
    assert dead["reason"] == "inference_crashed", dead
    expected = "signal SIGKILL" if action == "kill" else "memory limit of 1500 MiB"
    assert expected in dead["detail"], dead


@pytest.mark.timeout(900)
def test_a_crashed_worker_is_quarantined_not_a_crash_loop(kafka_bootstrap, kafka_topics, jobs, tmp_path):
    """Without the sandbox (INFERENCE_ISOLATION=inline) the marked text kills the Python worker itself: the
    micro-batch fails. The quarantine finds the offset, dead-letters it as poison, and the stream goes on."""
    dead, job = _run_hostile(kafka_bootstrap, kafka_topics, jobs, tmp_path, "kill", INFERENCE_ISOLATION="inline")
    assert dead["reason"] == "poison", dead
    assert "crashed" in dead["detail"].lower() or "exited" in dead["detail"].lower(), dead["detail"]
    assert "quarantined 1 offset(s)" in job.log(100_000)


@pytest.mark.timeout(900)
def test_the_quarantine_restart_writes_nothing_twice_with_exactly_once(kafka_bootstrap, kafka_topics, jobs, tmp_path):
    """OUTPUT_GUARANTEE=exactly-once, Arrow batches of 2 rows: the poison's batch-mates before it are committed in
    their own transactions when the worker dies; the restarted query skips them, writes the rest once, and the
    poison as its dead letter."""
    dead, job = _run_hostile(
        kafka_bootstrap,
        kafka_topics,
        jobs,
        tmp_path,
        "kill",
        INFERENCE_ISOLATION="inline",
        OUTPUT_GUARANTEE="exactly-once",
        ARROW_MAX_RECORDS_PER_BATCH="2",
    )
    assert dead["reason"] == "poison", dead
    assert "quarantined 1 offset(s)" in job.log(100_000)


@pytest.mark.timeout(600)
def test_messages_behind_a_quadratic_text_are_served_within_seconds(nlp, kafka_bootstrap, kafka_topics, jobs, tmp_path):
    """A run of 100,000 quotes (within MAX_TEXT_LENGTH) would hold spaCy's tokenizer ~20 minutes."""
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    job = jobs(job_env(kafka_bootstrap, topics, tmp_path / "ckpt", TRIGGER_INTERVAL="0 seconds"))
    tail = Tail(kafka_bootstrap, topics[1], topics[2])

    def up() -> None:
        assert job.running(), job.log()

    produce(kafka_bootstrap, topics[0], [_doc(0)])
    tail.wait_until(lambda: len(tail.results) >= 1, 300, "the warm-up message", still_ok=up)
    sent = time.monotonic()
    produce(kafka_bootstrap, topics[0], [_doc(1, "'" * 100_000)] + [_doc(i) for i in range(2, 12)])
    tail.wait_until(lambda: len(tail.results) >= 11, 120, "the messages behind it", still_ok=up)
    served = time.monotonic() - sent
    tail.wait_until(lambda: len(tail.dead_letters) >= 1, 60, "the quadratic text's dead letter", still_ok=up)
    assert job.terminate() == 0, job.log()
    tail.close()
    print(f"\nRELIABILITY quadratic-text: the 10 messages behind it served in {served:.1f} s")
    (dead,) = tail.dead_letters
    assert dead["value"]["reason"] == "inference_timeout" and dead["key"] == b"p-0001"
    assert served < 60


@pytest.mark.timeout(900)
def test_a_backlog_of_maximum_length_texts_keeps_worker_memory_bounded(
    corpus, kafka_bootstrap, kafka_topics, jobs, tmp_path
):
    """What one nlp.pipe call holds is bounded by characters (NLP_BATCH_MAX_CHARS), and an inference process over
    75% of INFERENCE_MEMORY_MB is replaced between calls: RSS stays under the limit the README states."""
    prose = " ".join(d["text"] for d in corpus[:400])
    texts = [prose[i * 1000 : i * 1000 + 100_000] for i in range(24)]  # 24 different texts of 100,000 characters
    topics = (kafka_topics("input", 2), kafka_topics("result", 1), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [_doc(i, t) for i, t in enumerate(texts)])
    # This test is about memory: a budget of time far above one long text's inference (2-3 s on an idle core) keeps
    # a busy machine from turning it into a timeout test (with the 5 s default, half the texts timed out at load 6).
    job = jobs(
        job_env(kafka_bootstrap, topics, tmp_path / "ckpt", TRIGGER_INTERVAL="0 seconds", MESSAGE_TIMEOUT_SECONDS="120")
    )
    tail = Tail(kafka_bootstrap, topics[1], topics[2])
    peak: dict[int, int] = {}

    def sample() -> None:
        assert job.running(), job.log()
        for pid in job.python_workers():
            peak[pid] = max(peak.get(pid, 0), rss_bytes(pid))

    tail.wait_until(lambda: len(tail.sources()) >= len(texts), 600, "every long text", still_ok=sample)
    assert job.terminate() == 0, job.log()
    tail.close()
    reasons = [d["value"]["reason"] for d in tail.dead_letters]
    print(
        f"\nRELIABILITY long-text backlog: {len(texts)} x 100,000 characters, results={len(tail.results)} "
        f"dead_letters={reasons} python_processes={len(peak)} peak_rss_mb={max(peak.values()) // 2**20}"
    )
    assert len(tail.results) == len(texts)
    assert max(peak.values()) < MAX_WORKER_RSS_BYTES
