"""The driver's logging: one format (time, level, logger, message), the configured level, py4j and kafka quieted.
Each case runs in a fresh interpreter, so logging's real root handler is the one configure() installs."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ([\w.]+): (.*)$")


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    """The script run by a fresh interpreter (logging is configured once per process), its stderr captured."""
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)


def logged(level: str) -> list[tuple[str, str, str]]:
    script = (
        "import logging, sys\n"
        "from app.logs import configure\n"
        f"configure({level!r})\n"
        "root = logging.getLogger()\n"
        "assert [type(h).__name__ for h in root.handlers] == ['StreamHandler']\n"
        "assert root.handlers[0].stream is sys.stderr\n"
        "for name in ('app.run', 'py4j.clientserver', 'kafka.conn'):\n"
        "    log = logging.getLogger(name)\n"
        "    log.debug('d'); log.info('i'); log.warning('w')\n"
    )
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    return [LINE.match(line).groups() for line in lines]  # type: ignore[union-attr]


@pytest.mark.parametrize("level", ["debug", "DEBUG"])
def test_debug_shows_everything_of_the_app_and_only_warnings_of_py4j_and_kafka(level):
    assert logged(level) == [
        ("DEBUG", "app.run", "d"),
        ("INFO", "app.run", "i"),
        ("WARNING", "app.run", "w"),
        ("WARNING", "py4j.clientserver", "w"),
        ("WARNING", "kafka.conn", "w"),
    ]


def test_info_hides_debug():
    assert [(lvl, name) for lvl, name, _ in logged("info") if name == "app.run"] == [
        ("INFO", "app.run"),
        ("WARNING", "app.run"),
    ]


def test_an_unknown_level_fails():
    done = run_python("from app.logs import configure; configure('loud')")
    assert done.returncode != 0 and "Unknown level: 'LOUD'" in done.stderr


def test_json_lines_carry_the_query_s_run_and_batch_once_known():
    script = (
        "import logging\n"
        "from app import logs\n"
        "logs.configure('info', 'json')\n"
        "log = logging.getLogger('app.run')\n"
        "log.info('before %s', 'start')\n"
        "logs.set_query('run-1', 7)\n"
        "log.warning('after \"quoted\"')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception('failed')\n"
    )
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(x["level"], x["logger"], x["message"]) for x in lines] == [
        ("INFO", "app.run", "before start"),
        ("WARNING", "app.run", 'after "quoted"'),
        ("ERROR", "app.run", "failed"),
    ]
    assert "run_id" not in lines[0] and (lines[1]["run_id"], lines[1]["batch_id"]) == ("run-1", 7)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["time"])
    assert "ZeroDivisionError" in lines[2]["exception"]
