"""The killable inference process: budgets in time and memory, crashes that cost one text, never the batch."""

import os
import signal
import time

import pytest

from app.isolation import Budget, InferenceProcess, char_groups, rss_bytes
from app.messages import Reason
from app.ner import Entity, InferenceError, extract_entities

MARK = "HOSTILE"
LIMIT = 300 * 2**20


def behaving_badly(how: str):
    """An infer function (list of texts -> outcomes) that misbehaves on the marked text only."""

    def infer(texts: list[str]) -> list:
        out = []
        for text in texts:
            if MARK in text:
                if how == "hang":
                    while True:
                        pass
                if how == "crash":
                    os.kill(os.getpid(), signal.SIGSEGV)
                if how == "exit":
                    os._exit(3)
                if how == "allocate":
                    hoard = []
                    while True:
                        hoard.append(bytearray(50 * 2**20))
                if how == "raise":
                    raise MemoryError("boom")
            out.append([Entity(text, "LEN", "OTHER", 0, len(text))])
        return out

    return infer


@pytest.mark.parametrize(("how", "reason", "words"), [
    ("hang", Reason.INFERENCE_TIMEOUT, "took over 1 s"),
    ("crash", Reason.INFERENCE_CRASHED, "SIGSEGV"),
    ("exit", Reason.INFERENCE_CRASHED, "exit code 3"),
    ("allocate", Reason.INFERENCE_CRASHED, "memory limit of"),
    ("raise", Reason.INFERENCE_ERROR, "MemoryError: boom"),
])
def test_one_bad_text_costs_itself_only(how, reason, words):
    # The child starts with this process's resident pages (a whole test session's: Spark, models...): the limit
    # is 300 MiB above them, as a worker's default is above its loaded model.
    process = InferenceProcess(behaving_badly(how), Budget(seconds=1, memory_bytes=rss_bytes(os.getpid()) + LIMIT))
    try:
        texts = ["first", f"the {MARK} one", "third"]
        started = time.monotonic()
        out = process.run(texts)
        elapsed = time.monotonic() - started
        assert out[0] == [Entity("first", "LEN", "OTHER", 0, 5)] and out[2] == [Entity("third", "LEN", "OTHER", 0, 5)]
        assert isinstance(out[1], InferenceError) and out[1].reason == reason and words in out[1].detail, out[1]
        assert elapsed < 10
        # and the next call is served by a fresh process
        assert process.run(["after"]) == [[Entity("after", "LEN", "OTHER", 0, 5)]]
    finally:
        process.close()


def test_a_quadratic_text_times_out_and_its_neighbours_get_entities(nlp):
    """A long run of quotes makes spaCy's tokenizer quadratic: 100,000 of them would hold a worker ~20 minutes."""

    def infer(texts: list[str]) -> list:
        return extract_entities(nlp, texts)

    process = InferenceProcess(infer, Budget(seconds=2, memory_bytes=2**31))
    try:
        texts = ["Barack Obama visited Paris.", "'" * 100_000, "Angela Merkel lives in Berlin."]
        started = time.monotonic()
        out = process.run(texts)
        assert time.monotonic() - started < 15
        assert out[1].reason == Reason.INFERENCE_TIMEOUT
        assert out[0] == extract_entities(nlp, [texts[0]])[0] and out[2] == extract_entities(nlp, [texts[2]])[0]
    finally:
        process.close()


def test_the_child_dies_with_its_worker():
    process = InferenceProcess(behaving_badly("none"), Budget(seconds=5, memory_bytes=2**30))
    process.run(["warm"])
    pid = process._process.pid
    assert rss_bytes(pid) > 0
    process.close()
    assert rss_bytes(pid) == 0


def test_char_groups_bound_characters_and_count():
    texts = ["a" * 10, "b" * 10, "c" * 25, "d", "e", "f"]
    assert char_groups(texts, max_chars=20, max_count=2) == [[0, 1], [2], [3, 4], [5]]
    assert char_groups([], 10, 10) == []
