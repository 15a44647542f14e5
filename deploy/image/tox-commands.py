"""Run a tox environment's commands in the current interpreter, without tox creating or filling a virtualenv.

Used by the Makefile (make lint/test/test-unit run the commands in .venv, which tox created once) and by the
image's test stage, which already has every package installed. Reading the commands from tox.ini keeps them in
one place.

    python deploy/image/tox-commands.py unit [extra pytest args]   (they replace {posargs})
"""

import configparser
import shlex
import subprocess
import sys
from pathlib import Path


def _executable(name: str) -> str:
    """`python` is this interpreter; a tool (ruff, mypy) is the one installed beside it, else found on PATH."""
    if name == "python":
        return sys.executable
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def commands(env: str, posargs: list[str], tox_ini: Path = Path("tox.ini")) -> list[list[str]]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(tox_ini, encoding="utf-8")
    section = f"testenv:{env}"
    if not config.has_option(section, "commands"):
        msg = f"{tox_ini}: no [{section}] commands"
        raise SystemExit(msg)
    out = []
    for line in config.get(section, "commands").strip().splitlines():
        argv = []
        for word in shlex.split(line):
            argv.extend(posargs if word == "{posargs}" else [word])
        out.append([_executable(argv[0]), *argv[1:]])
    return out


def main() -> int:
    env, posargs = sys.argv[1], sys.argv[2:]
    for argv in commands(env, posargs):
        print(f"tox-commands[{env}]: {shlex.join(argv)}", flush=True)
        rc = subprocess.call(argv)
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
