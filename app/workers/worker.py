"""A small background worker: a thread whose stop event is also its sleep, errors logged and counted."""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType

log = logging.getLogger(__name__)


class Worker:
    """Runs `step()` every `interval` seconds until stopped; `stop()` runs one last step (final commit/push)."""

    name = "worker"
    final_attempts = 5  # the last step (final commit/push) is retried, bounded, before giving up
    final_retry_delay = 1.0

    def __init__(self, interval: float, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._fatal: BaseException | None = None
        self._on_error = on_error
        self.errors = 0

    def step(self) -> None:
        raise NotImplementedError

    def _safe_step(self) -> bool:
        try:
            self.step()
            return True
        except Exception as exc:  # noqa: BLE001 - side I/O never kills the worker; it is logged and counted
            self.errors += 1
            log.warning("%s: step failed (%d errors so far): %s", self.name, self.errors, exc)
            if self._on_error is not None:
                self._on_error(exc)
            return False

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._safe_step()
        except BaseException as exc:  # the loop itself died: run.py notices through raise_for_error()
            self._fatal = exc
            raise

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Idempotent: stop the loop, then do one last step in the caller's thread."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for attempt in range(1, self.final_attempts + 1):
            if self._safe_step():
                return
            if attempt < self.final_attempts:
                time.sleep(self.final_retry_delay)
        log.error("%s: final step failed %d times; giving up", self.name, self.final_attempts)

    def raise_for_error(self) -> None:
        if self._fatal is not None:
            msg = f"background worker {self.name!r} died"
            raise RuntimeError(msg) from self._fatal
        if self._thread.ident is not None and not self._thread.is_alive() and not self._stop.is_set():
            msg = f"background worker {self.name!r} stopped unexpectedly"
            raise RuntimeError(msg)

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def raise_for_errors(workers: Iterable[Worker]) -> None:
    """Raise if any worker's thread died: called between awaitTermination polls."""
    for worker in workers:
        worker.raise_for_error()
