"""Inference in a child process the Python worker can kill, so that no single text can hold, grow or take down
a worker: a time budget per call, a memory limit, and a crash that costs one message, not the micro-batch.

The worker loads the model once and forks the child from itself, so a child that had to be killed is replaced in
milliseconds with the model already in memory (copy-on-write). A call that overruns or crashes is retried one text
at a time, each with the full budget: only the culprit becomes a dead letter, its neighbours get their results.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from app.messages import Reason
from app.ner import Entity, InferenceError

log = logging.getLogger(__name__)
Outcome = list[Entity] | InferenceError
Infer = Callable[[list[str]], list[Outcome]]
_PAGE = os.sysconf("SC_PAGE_SIZE")
_POLL_SECONDS = 0.02
# A child whose resident memory passed this share of the limit between calls is replaced before the next call, so
# the limit catches a message that allocates without bound, not the slow growth of a long-lived process.
_RECYCLE_SHARE = 0.75


@dataclass(frozen=True)
class Budget:
    """What one call may cost before the child is killed."""

    seconds: float
    memory_bytes: int


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the worker that forked it dies, however it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed pipe below still ends the child
        pass


def _serve(conn: Connection, infer: Infer) -> None:
    _die_with_parent()
    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        try:
            outcome: list[Outcome] | InferenceError = infer(texts)
        except BaseException as exc:  # noqa: BLE001 - reported to the worker, which retries text by text
            outcome = InferenceError(f"{type(exc).__name__}: {exc}"[:500])
        conn.send(outcome)


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class InferenceProcess:
    """A forked child that runs `infer` on lists of texts within a budget; replaced whenever it had to die."""

    def __init__(self, infer: Infer, budget: Budget) -> None:
        self._infer = infer
        self._budget = budget
        self._process: Any = None
        self._conn: Connection | None = None
        self.restarts = 0

    def run(self, texts: Sequence[str]) -> list[Outcome]:
        """An outcome per text, in order. After an overrun or a crash each text is tried alone."""
        texts = list(texts)
        if not texts:
            return []
        outcome = self._call(texts)
        if isinstance(outcome, list) and len(outcome) == len(texts):
            return outcome
        if len(texts) == 1:
            return [outcome if isinstance(outcome, InferenceError) else InferenceError("no result for the text")]
        log.warning("inference of %d texts failed (%s); retrying them one by one", len(texts), outcome)
        return [self.run([text])[0] for text in texts]

    def _call(self, texts: list[str]) -> list[Outcome] | InferenceError:
        conn, pid = self._ensure_started()
        try:
            conn.send(texts)
        except (BrokenPipeError, OSError):
            return self._crashed(pid, "the inference process was gone before the call")
        deadline = time.monotonic() + self._budget.seconds
        limit = self._budget.memory_bytes
        while not conn.poll(_POLL_SECONDS):
            if not self._process.is_alive():
                return self._crashed(pid, "the inference process died")
            if rss_bytes(pid) > limit:
                self._kill()
                return InferenceError(f"the inference process passed its memory limit of {limit // 2**20} MiB",
                                      Reason.INFERENCE_CRASHED)
            if time.monotonic() > deadline:
                self._kill()
                return InferenceError(f"inference took over {self._budget.seconds:g} s", Reason.INFERENCE_TIMEOUT)
        try:
            outcome = conn.recv()
        except (EOFError, OSError):
            return self._crashed(pid, "the inference process died")
        if (resident := rss_bytes(pid)) > _RECYCLE_SHARE * limit:
            log.info("replacing the inference process: %d MiB resident", resident // 2**20)
            self._kill()
        return outcome

    def _ensure_started(self) -> tuple[Connection, int]:
        if self._process is None or not self._process.is_alive():
            self._kill()
            parent, child = multiprocessing.get_context("fork").Pipe()
            process = multiprocessing.get_context("fork").Process(
                target=_serve, args=(child, self._infer), name="ner-inference", daemon=True)
            process.start()
            child.close()
            self._process, self._conn = process, parent
            self.restarts += 1
        assert self._conn is not None
        return self._conn, self._process.pid

    def _crashed(self, pid: int, what: str) -> InferenceError:
        self._process.join(1)
        code = self._process.exitcode
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        self._kill()
        return InferenceError(f"{what} ({how}, pid {pid})", Reason.INFERENCE_CRASHED)

    def _kill(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
            self._process = None

    def close(self) -> None:
        self._kill()


def char_groups(texts: Sequence[str], max_chars: int, max_count: int) -> list[list[int]]:
    """Indexes of `texts` in consecutive groups of at most max_count texts and max_chars characters (a longer
    text goes alone): what one nlp.pipe call holds in memory is bounded by characters, not only by count."""
    groups: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for i, text in enumerate(texts):
        if current and (chars + len(text) > max_chars or len(current) >= max_count):
            groups.append(current)
            current, chars = [], 0
        current.append(i)
        chars += len(text)
    if current:
        groups.append(current)
    return groups
