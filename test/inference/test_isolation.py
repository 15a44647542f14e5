"""The killable inference process: budgets in time and memory, crashes that cost one text, never the batch."""

import os
import signal
import time

import pytest

from app.contract import Entity, InferenceError, Reason
from app.inference.isolation import Budget, InferenceProcess, rss_bytes
from app.inference.ner import extract_entities

MARK = "HOSTILE"
LIMIT = 300 * 2**20


def behaving_badly(how: str, tokenized: bool = False):
    """An infer function (list of texts -> outcomes) that misbehaves on the marked text only: while it is being
    tokenized (as spaCy's tokenizer does on quadratic shapes), or after (as the model's step would)."""

    def infer(texts: list[str], progress=None) -> list:
        out = []
        for i, text in enumerate(texts):
            if progress is not None:
                progress(i, False)
                if tokenized:
                    progress(i, True)
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


@pytest.mark.parametrize(
    ("how", "reason", "words"),
    [
        ("hang", Reason.INFERENCE_TIMEOUT, "took over 1 s"),
        ("crash", Reason.INFERENCE_CRASHED, "SIGSEGV"),
        ("exit", Reason.INFERENCE_CRASHED, "exit code 3"),
        ("allocate", Reason.INFERENCE_CRASHED, "memory limit of"),
        ("raise", Reason.INFERENCE_ERROR, "MemoryError: boom"),
    ],
)
def test_one_bad_text_costs_itself_only(how, reason, words):
    # The child starts with this process's resident pages (a whole test session's: Spark, models...): the limit
    # is 300 MiB above them, as a worker's default is above its loaded model.
    # One second to hang in; the others get more, so that a busy machine's slow allocation is not read as a hang.
    seconds = 1 if how == "hang" else 5
    budget = Budget(seconds=seconds, memory_bytes=rss_bytes(os.getpid()) + LIMIT)
    process = InferenceProcess(behaving_badly(how), budget)
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

    def infer(texts: list[str], progress=None) -> list:
        return extract_entities(nlp, texts, progress=progress)

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


class Attempts:
    """Counts, across the forked children, how often each text was begun: a file, appended by each child."""

    def __init__(self, path, infer):
        self.path, self.infer = path, infer

    def __call__(self, texts, progress=None):
        with open(self.path, "a") as fh:
            fh.writelines(f"{t}\n" for t in texts)
        return self.infer(texts, progress)

    def of(self, text: str) -> int:
        return self.path.read_text().splitlines().count(text)


@pytest.mark.parametrize("tokenized", [False, True])
def test_a_hanging_text_costs_one_budget_in_the_tokenizer_and_a_few_halvings_in_the_model(tmp_path, tokenized):
    """Stuck while being tokenized, the culprit is named by the child's progress mark: it is begun once, its
    budget is paid once. Stuck after (in the model's step), the call is split in halves: log2(n) attempts."""
    attempts = Attempts(tmp_path / "begun", behaving_badly("hang", tokenized))
    process = InferenceProcess(attempts, Budget(seconds=0.5, memory_bytes=2**31))
    try:
        texts = [f"text {i}" for i in range(16)]
        texts[5] = f"the {MARK} one"
        out = process.run(texts)
        assert [i for i, o in enumerate(out) if isinstance(o, InferenceError)] == [5]
        assert out[5].reason == Reason.INFERENCE_TIMEOUT
        assert all(
            o == [Entity(t, "LEN", "OTHER", 0, len(t))] for t, o in zip(texts, out, strict=True) if t != texts[5]
        )
        assert attempts.of(texts[5]) == (5 if tokenized else 1)  # 16 -> 8 -> 4 -> 2 -> 1, or named at once
    finally:
        process.close()


def test_the_budget_runs_per_step_so_a_long_healthy_call_is_not_cut(tmp_path):
    """Eight texts of 0.3 s each make a 2.4 s call: under a 1 s budget per step, it is never killed."""

    def slow(texts, progress=None):
        out = []
        for i in range(len(texts)):
            progress(i, False)
            time.sleep(0.3)
            progress(i, True)
            out.append([])
        return out

    attempts = Attempts(tmp_path / "begun", slow)
    process = InferenceProcess(attempts, Budget(seconds=1, memory_bytes=2**31))
    try:
        assert process.run([f"t{i}" for i in range(8)]) == [[]] * 8
        assert attempts.of("t0") == 1
    finally:
        process.close()


def test_the_child_dies_with_its_worker():
    process = InferenceProcess(behaving_badly("none"), Budget(seconds=5, memory_bytes=2**30))
    process.run(["warm"])
    pid = process._process.pid
    assert rss_bytes(pid) > 0
    process.close()
    assert rss_bytes(pid) == 0
