"""Inference in a child process the Python worker can kill, so that no single text can hold, grow or take down
a worker: a time budget per step, a memory limit, and a crash that costs one message, not the micro-batch.

The worker loads the model once and forks the child from itself, so a child that had to be killed is replaced in
milliseconds with the model already in memory (copy-on-write). The child marks its progress in shared memory (the
text it is tokenizing, the last text it tokenized), and the budget runs from the last mark: every step (tokenizing
one text, or running the model on one minibatch) gets `seconds`, however long the call. When a step overruns or
the child dies, the mark names the culprit: a text stuck in the tokenizer becomes a dead letter alone, at the cost
of one budget, and the rest of the call is run again; a failure in the model's step splits the call in halves
until the culprit is alone.
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
from typing import Any, Protocol

import psutil

from app.contract import InferenceError, Outcome, Reason

log = logging.getLogger(__name__)
Infer = Callable[[list[str]], list[Outcome]]
Progress = Callable[[int, bool], None]  # (index of a text in the call, whether it is tokenized)
_POLL_SECONDS = 0.02
# A child whose resident memory passed this share of the limit between calls is replaced before the next call, so
# the limit catches a message that allocates without bound, not the slow growth of a long-lived process.
_RECYCLE_SHARE = 0.75
_IDLE = -1


class Step(Protocol):
    """Inference over texts that reports its progress (app/inference/ner.py extract_entities)."""

    def __call__(self, texts: list[str], progress: Progress | None = None) -> list[Outcome]: ...


@dataclass(frozen=True)
class Budget:
    """What one step of a call may cost before the child is killed."""

    seconds: float
    memory_bytes: int


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL when the worker that forked it dies, however it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed pipe below still ends the child
        pass


def _serve(conn: Connection, infer: Step, mark: Any) -> None:
    _die_with_parent()

    def progress(index: int, tokenized: bool) -> None:
        mark.value = 2 * index + int(tokenized)

    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        try:
            outcome: list[Outcome] | InferenceError = infer(texts, progress)
        except BaseException as exc:  # noqa: BLE001 - reported to the worker, which splits the call
            outcome = InferenceError(f"{type(exc).__name__}: {exc}"[:500])
        mark.value = _IDLE
        conn.send(outcome)


def rss_bytes(pid: int) -> int:
    """The process's resident memory, 0 once it is gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0


@dataclass(frozen=True)
class _Failed:
    """A call that did not return: why, and the child's last mark (-1: before its first text)."""

    error: InferenceError
    mark: int


class InferenceProcess:
    """A forked child that runs `infer` on lists of texts within a budget; replaced whenever it had to die."""

    def __init__(self, infer: Step, budget: Budget) -> None:
        self._infer = infer
        self._budget = budget
        self._process: Any = None
        self._conn: Connection | None = None
        self._mark: Any = multiprocessing.get_context("fork").Value("q", _IDLE, lock=False)

    def run(self, texts: Sequence[str]) -> list[Outcome]:
        """An outcome per text, in order. After an overrun or a crash, the culprit alone gets the error."""
        texts = list(texts)
        if not texts:
            return []
        outcome = self._call(texts)
        if isinstance(outcome, list) and len(outcome) == len(texts):
            return outcome
        failed = (
            outcome
            if isinstance(outcome, _Failed)
            else _Failed(
                outcome if isinstance(outcome, InferenceError) else InferenceError("no result for the texts"), _IDLE
            )
        )
        if len(texts) == 1:
            return [failed.error]
        index, tokenized = divmod(failed.mark, 2) if failed.mark >= 0 else (-1, 1)
        if not tokenized and index >= 0:  # stuck or dead in the tokenizer on this one text
            log.warning(
                "inference of %d texts failed on text %d in the tokenizer (%s)", len(texts), index, failed.error.detail
            )
            return [*self.run(texts[:index]), failed.error, *self.run(texts[index + 1 :])]
        half = len(texts) // 2
        log.warning("inference of %d texts failed (%s); splitting them in halves", len(texts), failed.error.detail)
        return [*self.run(texts[:half]), *self.run(texts[half:])]

    def _call(self, texts: list[str]) -> list[Outcome] | InferenceError | _Failed:
        conn, pid = self._ensure_started()
        self._mark.value = _IDLE
        try:
            conn.send(texts)
        except (BrokenPipeError, OSError):
            return _Failed(self._crashed(pid, "the inference process was gone before the call"), _IDLE)
        seconds, limit = self._budget.seconds, self._budget.memory_bytes
        mark, deadline = self._mark.value, time.monotonic() + seconds
        while not conn.poll(_POLL_SECONDS):
            if (now_mark := self._mark.value) != mark:  # a new step began: its own budget
                mark, deadline = now_mark, time.monotonic() + seconds
            if not self._process.is_alive():
                return _Failed(self._crashed(pid, "the inference process died"), self._mark.value)
            if rss_bytes(pid) > limit:
                self._kill()
                return _Failed(
                    InferenceError(
                        f"the inference process passed its memory limit of {limit // 2**20} MiB",
                        Reason.INFERENCE_CRASHED,
                    ),
                    self._mark.value,
                )
            if time.monotonic() > deadline:
                self._kill()
                return _Failed(
                    InferenceError(f"inference took over {seconds:g} s in one step", Reason.INFERENCE_TIMEOUT), mark
                )
        try:
            outcome = conn.recv()
        except (EOFError, OSError):
            return _Failed(self._crashed(pid, "the inference process died"), self._mark.value)
        if (resident := rss_bytes(pid)) > _RECYCLE_SHARE * limit:
            log.info("replacing the inference process: %d MiB resident", resident // 2**20)
            self._kill()
        return outcome

    def _ensure_started(self) -> tuple[Connection, int]:
        if self._process is None or not self._process.is_alive():
            self._kill()
            parent, child = multiprocessing.get_context("fork").Pipe()
            process = multiprocessing.get_context("fork").Process(
                target=_serve, args=(child, self._infer, self._mark), name="ner-inference", daemon=True
            )
            process.start()
            child.close()
            self._process, self._conn = process, parent
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
