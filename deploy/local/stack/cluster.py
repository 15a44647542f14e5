"""A Spark standalone cluster on this machine, from the pip-installed pyspark: one master and N workers, each a
background JVM with a recorded pid. `make app MASTER=spark://127.0.0.1:7077` runs the unchanged job on it."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .broker import port_open
from .procs import PidFile, StackError, say

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass(frozen=True)
class Cluster:
    state_dir: Path
    python: str
    host: str = "127.0.0.1"
    port: int = 7077
    ui_port: int = 8080
    workers: int = 2
    worker_ui_port: int = 8081
    cores: int = 1
    memory: str = "2g"
    daemon_memory: str = "256m"
    start_timeout: float = 90.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Cluster:
        """CLUSTER_STATE_DIR [.local/cluster], CLUSTER_PYTHON (whose pyspark provides spark-class)
        [.venv/bin/python], SPARK_MASTER_HOST [127.0.0.1], SPARK_MASTER_PORT [7077], SPARK_MASTER_WEBUI_PORT
        (UI and JSON API) [8080], SPARK_WORKERS [2], SPARK_WORKER_WEBUI_PORT (the first worker's; the others take
        the next ports) [8081], SPARK_WORKER_CORES [1], SPARK_WORKER_MEMORY [2g], SPARK_DAEMON_MEMORY (the
        daemons' own heap) [256m], CLUSTER_START_TIMEOUT seconds for every worker to register [90]."""
        return cls(
            state_dir=procs.repo_path(env.get("CLUSTER_STATE_DIR", ".local/cluster")),
            python=str(procs.repo_path(env.get("CLUSTER_PYTHON", ".venv/bin/python"))),
            host=env.get("SPARK_MASTER_HOST", "127.0.0.1"),
            port=int(env.get("SPARK_MASTER_PORT", "7077")),
            ui_port=int(env.get("SPARK_MASTER_WEBUI_PORT", "8080")),
            workers=int(env.get("SPARK_WORKERS", "2")),
            worker_ui_port=int(env.get("SPARK_WORKER_WEBUI_PORT", "8081")),
            cores=int(env.get("SPARK_WORKER_CORES", "1")),
            memory=env.get("SPARK_WORKER_MEMORY", "2g"),
            daemon_memory=env.get("SPARK_DAEMON_MEMORY", "256m"),
            start_timeout=float(env.get("CLUSTER_START_TIMEOUT", "90")),
        )

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    def pidfile(self, name: str) -> PidFile:
        return PidFile(self.state_dir / f"{name}.pid", MASTER_CLASS if name == "master" else WORKER_CLASS)

    def alive_workers(self) -> int:
        """How many workers the master's JSON API lists as ALIVE."""
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.ui_port}/json/", timeout=3) as response:
                return sum(w["state"] == "ALIVE" for w in json.load(response)["workers"])
        except (OSError, ValueError, KeyError):
            return 0

    def spark_home(self) -> str:
        """The pyspark package directory: it holds jars/ and bin/spark-class."""
        found = subprocess.run(
            [self.python, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
            capture_output=True,
            text=True,
        )
        if found.returncode != 0:
            raise StackError(f"no pyspark in {self.python}: run make venv")
        return found.stdout.strip()

    def _launch(self, name: str, spark_home: str, args: list[str]) -> None:
        # PYTHONPATH is cleared so executors import the `app` package only from what the job ships
        # (spark.submit.pyFiles), as on a real cluster.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env |= {
            "SPARK_HOME": spark_home,
            "SPARK_LOCAL_IP": self.host,
            "SPARK_LOG_DIR": str(self.state_dir / "logs"),
            "SPARK_DAEMON_MEMORY": self.daemon_memory,
        }
        log_path = self.state_dir / "logs" / f"{name}.log"
        proc = procs.spawn([f"{spark_home}/bin/spark-class", *args], log_path, env)
        self.pidfile(name).record(proc.pid)
        say("cluster", f"{name} started (pid {proc.pid}, log {log_path})")

    def names(self) -> list[str]:
        return ["master", *(f"worker-{i}" for i in range(1, self.workers + 1))]

    def start(self) -> None:
        spark_home = self.spark_home()
        if self.pidfile("master").running() is None:
            if port_open(self.host, self.port):
                raise StackError(f"{self.host}:{self.port} is in use by another process; set SPARK_MASTER_PORT")
            self._launch(
                "master",
                spark_home,
                [MASTER_CLASS, "--host", self.host, "--port", str(self.port), "--webui-port", str(self.ui_port)],
            )
        for i in range(1, self.workers + 1):
            name = f"worker-{i}"
            if self.pidfile(name).running() is not None:
                continue
            work_dir = self.state_dir / "worker-dirs" / name
            work_dir.mkdir(parents=True, exist_ok=True)
            self._launch(
                name,
                spark_home,
                [
                    WORKER_CLASS,
                    "--host",
                    self.host,
                    "--cores",
                    str(self.cores),
                    "--memory",
                    self.memory,
                    "--webui-port",
                    str(self.worker_ui_port + i - 1),
                    "--work-dir",
                    str(work_dir),
                    self.master_url,
                ],
            )

        def registered() -> bool:
            for name in self.names():
                if self.pidfile(name).running() is None:
                    raise StackError(f"{name} exited:\n{procs.tail(self.state_dir / 'logs' / f'{name}.log')}")
            return self.alive_workers() >= self.workers

        master = self.pidfile("master").running()
        assert master is not None
        procs.wait_ready(registered, master, self.start_timeout, f"{self.workers} workers registering", interval=1)
        say(
            "cluster",
            f"ready: {self.master_url} with {self.workers} workers x {self.cores} core(s), {self.memory}; "
            f"UI http://{self.host}:{self.ui_port}",
        )

    def stop(self) -> None:
        # Workers first: they kill their executors on the way out; then the master.
        workers = sorted(p.stem for p in self.state_dir.glob("worker-*.pid"))
        for name in [*workers, "master"]:
            if (pid := self.pidfile(name).stop(20, name)) is not None:
                say("cluster", f"{name} stopped (pid {pid})")

    def status(self) -> str | None:
        if (pid := self.pidfile("master").running()) is None:
            return None
        return (
            f"master running (pid {pid}) at {self.master_url}, {self.alive_workers()} worker(s) alive; "
            f"UI http://{self.host}:{self.ui_port}"
        )
