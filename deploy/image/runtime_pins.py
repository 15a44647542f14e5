"""The Databricks runtime's own packages as pip input: constraints from deploy/databricks/runtime.env, and our
requirement files with those packages left to the runtime. One generator for the image, the lock and make test-runtime.

    python deploy/image/runtime_pins.py constraints [--spark 4.3.0]      # pyspark, numpy, pandas...==runtime's
    python deploy/image/runtime_pins.py requirements requirements.txt [--without pyspark]
    python deploy/image/runtime_pins.py check [--without pyspark]      # this Python has the runtime's versions

Standard library only: it runs in the Databricks base image's Python before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME_ENV = REPO / "deploy" / "databricks" / "runtime.env"
# The packages the runtime brings, each with the runtime.env key of its version. Our requirement files pin newer
# ones for the local image; on the runtime, installing those would replace the runtime's own under Spark.
RUNTIME_PROVIDED = {
    "pyspark": "DATABRICKS_RUNTIME_SPARK",
    "numpy": "DATABRICKS_RUNTIME_NUMPY",
    "pandas": "DATABRICKS_RUNTIME_PANDAS",
    "pyarrow": "DATABRICKS_RUNTIME_PYARROW",
    "setuptools": "DATABRICKS_RUNTIME_SETUPTOOLS",
}
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def read_env(path: Path = RUNTIME_ENV) -> dict[str, str]:
    """KEY=VALUE lines, comments and blanks skipped (the format make's include and sh's `.` read too)."""
    lines = (line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in (line.split("=", 1) for line in lines)}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints(env: dict[str, str], spark: str | None = None) -> list[str]:
    """name==version for each package the runtime provides; `spark` replaces the runtime's pyspark (test-newest)."""
    missing = [key for key in RUNTIME_PROVIDED.values() if not env.get(key)]
    if missing:
        msg = f"{RUNTIME_ENV.name} lacks {', '.join(missing)}"
        raise SystemExit(msg)
    versions = {name: env[key] for name, key in RUNTIME_PROVIDED.items()}
    if spark:
        versions["pyspark"] = spark
    return [f"{name}=={version}" for name, version in versions.items()]


def requirements(path: Path, without: set[str]) -> list[str]:
    """The file's requirements, `-r` includes inlined, with each runtime-provided pin reduced to its bare name
    (the constraints pin it) and the names in `without` dropped."""
    out: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            out += requirements(path.parent / line.split(None, 1)[1], without)
            continue
        match = NAME.match(line)
        name = canonical(match.group(1)) if match else ""
        if name in without:
            continue
        out.append(name if name in RUNTIME_PROVIDED else line)
    return out


def check(env: dict[str, str], spark: str | None, without: set[str]) -> list[str]:
    """What differs between this Python's packages and the runtime's: a version, or a package that must be absent."""
    problems = []
    for pin in constraints(env, spark):
        name, want = pin.split("==")
        try:
            have: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if name in without:
            if have is not None:
                problems.append(f"{name} {have} is installed: the runtime provides it")
        elif have != want:
            problems.append(f"{name} is {have or 'not installed'}, the runtime has {want} ({RUNTIME_ENV.name})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    con = sub.add_parser("constraints", help="pip constraints: the runtime's pyspark, numpy, pandas, pyarrow")
    con.add_argument("--spark", help="another pyspark release instead of the runtime's (the newest, say)")
    con.add_argument("--env-file", type=Path, default=RUNTIME_ENV)
    req = sub.add_parser("requirements", help="requirement files with the runtime's packages left to it")
    req.add_argument("files", nargs="+", type=Path)
    req.add_argument("--without", action="append", default=[], help="drop this package (pyspark on Databricks)")
    chk = sub.add_parser("check", help="exit 1 unless this Python has the runtime's versions of those packages")
    chk.add_argument("--spark", help="the pyspark expected instead of the runtime's")
    chk.add_argument("--env-file", type=Path, default=RUNTIME_ENV)
    chk.add_argument("--without", action="append", default=[], help="a runtime package that must not be installed")
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check(read_env(args.env_file), args.spark, {canonical(name) for name in args.without})
        for problem in problems:
            print(f"runtime_pins: {problem}", file=sys.stderr)
        return 1 if problems else 0
    if args.command == "constraints":
        lines = constraints(read_env(args.env_file), args.spark)
    else:
        drop = {canonical(name) for name in args.without}
        lines = [line for path in args.files for line in requirements(path, drop)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
