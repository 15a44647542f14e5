"""The local broker as the toolbox runs it, on ports and a state dir of the test's own: start, refuse a port in use,
stop only what it recorded; and through the entry points the Makefile uses."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import clients
from deploy.local.stack.broker import Broker
from deploy.local.stack.procs import REPO
from test.helpers.local_stack import stack_env

pytestmark = pytest.mark.integration
PORT = 29392  # below the ephemeral range (32768-60999): a client socket cannot hold it


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    own = Broker(tmp_path / "kafka", port=PORT, controller_port=PORT + 1)
    try:
        yield own
    finally:
        own.stop()


def test_start_status_and_stop(broker: Broker, tmp_path: Path):
    broker.start()
    pid = broker.running()
    assert pid is not None and broker.status() == f"running (pid {pid}) at 127.0.0.1:{PORT}"
    assert clients.broker_ready(broker.bootstrap)  # serves requests and coordinates groups
    broker.start()  # already running: nothing happens
    assert broker.running() == pid

    other = Broker(tmp_path / "other", port=PORT, controller_port=PORT + 2)
    with pytest.raises(RuntimeError, match="already in use"):
        other.start()
    assert other.running() is None and broker.running() == pid

    broker.stop()
    assert broker.status() is None and not clients.broker_ready(broker.bootstrap)
    assert not (broker.state_dir / "kafka.pid").exists()
    assert (broker.state_dir / "data" / "meta.properties").is_file()  # the data stays; reset() wipes it


def stack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.local.stack", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.monitoring
def test_monitor_starts_the_broker_it_reads_and_down_stops_everything(tmp_path: Path):
    env = stack_env(
        tmp_path, PORT, BURROW_PORT="28100", PUSHGATEWAY_PORT="29491", PROMETHEUS_PORT="29490", BURROW_TOPIC_REFRESH="1"
    )
    broker = Broker.from_env(env)
    try:
        started = stack("monitoring", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert "starting the local one" in started.stderr
        assert broker.running() is not None
        status = stack("monitoring", "status", env=env)
        assert status.returncode == 0 and status.stdout.count(": running") == 3, status.stdout
        assert stack("kafka", "status", env=env).returncode == 0

        down = stack("down", env=env)
        assert down.returncode == 0, down.stderr
        assert broker.running() is None
        assert stack("monitoring", "status", env=env).returncode == 1
        # The thin shell entry point says the same.
        shell = subprocess.run(
            ["bash", str(REPO / "deploy/local/kafka/kafka.sh"), "status"],
            env={**os.environ, **env, "STACK_PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shell.returncode == 1 and shell.stdout.startswith("not running")
    finally:
        stack("down", env=env)


def test_a_wrong_broker_address_is_not_started(tmp_path: Path):
    env = stack_env(tmp_path, PORT, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    failed = stack("monitoring", "start", env=env)
    assert failed.returncode == 1 and "no Kafka broker answers at 127.0.0.1:1" in failed.stderr
    assert Broker.from_env(env).running() is None
