"""`make demo`'s command on a broker and state dirs of the test's own: the demo input comes back as results, and
what the demo started is stopped again."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.stack.broker import Broker
from deploy.local.stack.job import BackgroundJob
from deploy.local.stack.procs import REPO
from test.helpers.local_stack import stack_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PORT = 29692  # below the ephemeral range (32768-60999): a client socket cannot hold it


@pytest.mark.timeout(900)
def test_demo_prints_every_result_and_stops_what_it_started(tmp_path: Path):
    env = stack_env(
        tmp_path, PORT, APP_PYTHON=sys.executable, CHECKPOINT_LOCATION=str(tmp_path / "ckpt"), SPARK_MASTER="local[2]"
    )
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "deploy.local.stack", "demo"],
            cwd=REPO,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=840,
        )
        assert demo.returncode == 0, demo.stderr[-3000:]
        sent = [json.loads(line)["uuid"] for line in (REPO / "deploy/local/input.json").read_text().splitlines()]
        keys = [line.split("key=")[1] for line in demo.stdout.splitlines() if line.startswith("--- result[")]
        assert len(keys) == len(sent) and all(k.startswith("input/") for k in keys)  # RESULT_KEY=source
        assert sorted(re.findall(r'^  "uuid": "([^"]+)"', demo.stdout, re.MULTILINE)) == sorted(sent)
        assert '"label": "PERSON"' in demo.stdout
        assert Broker.from_env(env).running() is None and BackgroundJob.from_env(env).running() is None
    finally:
        BackgroundJob.from_env(env).stop()
        Broker.from_env(env).stop()


def test_a_key_or_value_cannot_drive_the_terminal():
    from deploy.local.stack.demo import printable

    assert printable("k\x1b]0;pwned\x07\r\n") == "k\\x1b]0;pwned\\x07\\x0d\\x0a"
    assert printable('{\n  "a": "\x9b2J"\n}', multiline=True) == '{\n  "a": "\\x9b2J"\n}'
