"""The background worker base: interval loop, counted errors, final step, noticing a dead thread."""

import threading
import time

import pytest

from app.workers.worker import Worker


class Counting(Worker):
    name = "counting"
    final_retry_delay = 0.0

    def __init__(self, fail_times: int = 0) -> None:
        super().__init__(interval=0.01)
        self.calls = 0
        self.fail_times = fail_times
        self.ran = threading.Event()

    def step(self) -> None:
        self.calls += 1
        self.ran.set()
        if self.calls <= self.fail_times:
            raise OSError("side I/O failed")


def test_runs_on_its_interval_and_does_a_final_step():
    with Counting() as worker:
        assert worker.ran.wait(5)
    calls = worker.calls
    worker.stop()  # idempotent: no second final step
    assert calls >= 2 and worker.calls == calls


def test_errors_are_counted_not_fatal():
    worker = Counting(fail_times=3).start()
    try:
        deadline = time.monotonic() + 5
        while worker.calls <= 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.errors == 3
        worker.raise_for_error()  # still alive
    finally:
        worker.stop()


def test_final_step_is_retried_bounded():
    worker = Counting(fail_times=10**6)
    worker.final_attempts = 3
    worker.start()
    worker.ran.wait(5)
    before = worker.calls
    worker.stop()
    assert worker.calls - before <= 3 + 1


def test_a_dead_loop_is_noticed():
    class Dying(Worker):
        name = "dying"

        def step(self) -> None:
            raise SystemExit  # not an Exception: kills the loop, like a bug in the loop itself

    worker = Dying(interval=0.01).start()
    worker._thread.join(5)
    with pytest.raises(RuntimeError, match="dying"):
        worker.raise_for_error()
