"""The harness does not measure a contender that comes up stuck: busy with no input after its warm-up, it is stopped
and started again on fresh topics, and one that stays stuck fails with the reason of every start."""

import sys

import pytest

from bench import harness
from bench.corpus import load_docs

# The plain consumer contender with a thread in its launcher that spins from the start, as a kafka-python client
# that comes up stuck does (a bytecode loop, so the thread gives the GIL up to the launcher's main thread).
SPINNING_CONSUMER = (
    "import threading; "
    "threading.Thread(target=exec, args=('while True: pass',), daemon=True).start(); "
    "from bench.contenders.consumer import main; main()"
)


def spinning_consumer(bootstrap: str, t: harness.Topics) -> tuple[list[str], dict[str, str]]:
    return harness.contender_argv([sys.executable, "-c", SPINNING_CONSUMER], bootstrap, t, workers=1), {}


@pytest.mark.timeout(600)
def test_a_contender_busy_with_no_input_is_started_again_and_then_refused(kafka_bootstrap):
    spec = harness.Spec("stuck", "stuck consumer", spinning_consumer, partitions=1, group_members=1)

    with pytest.raises(RuntimeError, match=f"came up stuck {harness.START_ATTEMPTS} times") as refused:
        with harness.warmed(spec, kafka_bootstrap, load_docs(limit=8)):
            pytest.fail("a stuck contender was handed out for measuring")

    assert str(refused.value).count("cores busy with no input") == harness.START_ATTEMPTS
