"""The local Kafka broker without Docker: the official Apache Kafka jars from Maven Central (deploy/local/kafka/
pom.xml), run as one KRaft broker+controller process in the background, recorded in `<state>/kafka.pid`."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .clients import broker_ready
from .procs import REPO, PidFile, StackError, say

KAFKA_DIR = REPO / "deploy" / "local" / "kafka"
# Client-side JIT and a serial GC: the storage tool's JVM lives for a second or two.
TOOL_JVM = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlog4j2.level=warn"]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def new_cluster_id() -> str:
    """16 random bytes in unpadded url-safe base64, what `kafka-storage random-uuid` prints; never with a leading
    '-', which the storage tool would read as an option (Kafka's own Uuid draws again too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class Broker:
    """One local broker: its state dir (data, logs, rendered config, pid file) and ports. Its data survives
    stop and start; `reset()` wipes it."""

    state_dir: Path
    port: int = 9092
    controller_port: int = 9093
    host: str = "127.0.0.1"
    libs_dir: Path = REPO / ".local" / "kafka-libs"
    extra_properties: Path | None = None
    heap: str = "-Xms128m -Xmx512m"
    jvm_options: tuple[str, ...] = ()  # more -D properties (an OAUTHBEARER listener's allowed JWKS URL)
    start_timeout: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Broker:
        """KAFKA_STATE_DIR [.local/kafka], KAFKA_LIBS_DIR (the jars, shared by every state dir) [.local/kafka-libs],
        KAFKA_HOST [127.0.0.1], KAFKA_PORT [9092], KAFKA_CONTROLLER_PORT [9093], KAFKA_EXTRA_PROPERTIES (a file
        appended to the config: extra listeners, SASL, TLS), KAFKA_HEAP_OPTS [-Xms128m -Xmx512m],
        KAFKA_START_TIMEOUT seconds [60]."""
        extra = env.get("KAFKA_EXTRA_PROPERTIES")
        return cls(
            state_dir=procs.repo_path(env.get("KAFKA_STATE_DIR", ".local/kafka")),
            port=int(env.get("KAFKA_PORT", "9092")),
            controller_port=int(env.get("KAFKA_CONTROLLER_PORT", "9093")),
            host=env.get("KAFKA_HOST", "127.0.0.1"),
            libs_dir=procs.repo_path(env.get("KAFKA_LIBS_DIR", ".local/kafka-libs")),
            extra_properties=procs.repo_path(extra) if extra else None,
            heap=env.get("KAFKA_HEAP_OPTS", "-Xms128m -Xmx512m"),
            start_timeout=float(env.get("KAFKA_START_TIMEOUT", "60")),
        )

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pidfile(self) -> PidFile:
        return PidFile(self.state_dir / "kafka.pid", "kafka.Kafka")

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "server.log"

    def classpath(self) -> str:
        return f"{self.libs_dir}/*"

    def jars(self) -> None:
        """Resolve the jars with Maven, once per version of the pom (its checksum is the stamp)."""
        pom = KAFKA_DIR / "pom.xml"
        stamp = self.libs_dir / ".pom.sha256"
        want = hashlib.sha256(pom.read_bytes()).hexdigest()
        if stamp.is_file() and stamp.read_text().strip() == want:
            return
        if shutil.which("mvn") is None:
            raise StackError("Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven")
        say("kafka", f"resolving the Kafka jars into {self.libs_dir} (first run downloads ~45 MB from Maven Central)")
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        self.libs_dir.mkdir(parents=True)
        mvn_log = self.libs_dir / ".mvn.log"
        with (
            mvn_log.open("w") as log,
            subprocess.Popen(
                ["mvn", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={self.libs_dir}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ) as mvn,
        ):
            # Maven's batch output prints a line per file: show a running count instead, the log on failure.
            downloaded = 0
            for line in mvn.stdout or ():
                log.write(line)
                if "Downloaded from" in line:
                    downloaded += 1
                    if downloaded % 50 == 0:
                        say("kafka", f"... {downloaded} files downloaded")
        if mvn.returncode != 0 or "BUILD SUCCESS" not in mvn_log.read_text():
            print(procs.tail(mvn_log, 40), file=sys.stderr)
            raise StackError(f"mvn dependency:copy-dependencies failed (full log: {mvn_log})")
        stamp.write_text(want + "\n")
        say("kafka", f"{len(list(self.libs_dir.glob('*.jar')))} jars ready")

    def render_config(self) -> Path:
        out = self.state_dir / "server.properties"
        text = (KAFKA_DIR / "server.properties").read_text()
        for name, value in {
            "KAFKA_HOST": self.host,
            "KAFKA_PORT": self.port,
            "KAFKA_CONTROLLER_PORT": self.controller_port,
            "KAFKA_DATA_DIR": self.state_dir / "data",
        }.items():
            text = text.replace(f"@{name}@", str(value))
        if self.extra_properties is not None:
            if not self.extra_properties.is_file():
                raise StackError(f"KAFKA_EXTRA_PROPERTIES={self.extra_properties}: no such file")
            text += f"\n# --- appended from {self.extra_properties}\n{self.extra_properties.read_text()}"
        out.write_text(text)
        return out

    def _check_java(self) -> None:
        version = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
        match = re.search(r'version "(\d+)', version)
        if not match or int(match.group(1)) < 17:
            raise StackError(f"Kafka 4 needs Java 17 or newer: {version.splitlines()[:1]}")

    def _format(self, config: Path) -> None:
        if (self.state_dir / "data" / "meta.properties").is_file():
            return
        cluster_id = new_cluster_id()
        say("kafka", f"formatting {self.state_dir / 'data'} (cluster id {cluster_id})")
        result = subprocess.run(
            [
                "java",
                *TOOL_JVM,
                "-cp",
                self.classpath(),
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        (self.state_dir / "logs" / "format.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise StackError(f"formatting the storage failed:\n{result.stdout}{result.stderr}")

    def failure_report(self) -> str:
        """The first errors say why (a port in use, a bad property); the tails say where it stopped."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        errors = [
            line[:400]
            for line in lines
            if re.match(r"^\[[^]]*\] (ERROR|FATAL)|^Caused by|^[a-zA-Z.]+(Exception|Error):", line)
        ][:8]
        return "\n".join(
            [
                f"---- first errors in {self.log_path}:",
                *errors,
                f"---- last lines of {self.log_path} and stdout.log:",
                procs.tail(self.log_path, 15),
                procs.tail(self.state_dir / "logs" / "stdout.log", 10),
            ]
        )

    def start(self) -> None:
        """Start the broker unless it runs; return once it serves requests and coordinates groups."""
        if (pid := self.running()) is not None:
            say("kafka", f"already running (pid {pid}) at {self.bootstrap}")
            return
        self.jars()
        self._check_java()
        if port_open(self.host, self.port):
            raise StackError(
                f"{self.bootstrap} is already in use by another process (not the broker of "
                f"{self.state_dir}); set KAFKA_PORT"
            )
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "data").mkdir(parents=True, exist_ok=True)
        config = self.render_config()
        self._format(config)
        say("kafka", f"starting the broker at {self.bootstrap} (logs: {self.log_path})")
        command = [
            "java",
            *self.heap.split(),
            *self.jvm_options,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
            "-cp",
            self.classpath(),
            "kafka.Kafka",
            str(config),
        ]
        proc = procs.spawn(command, self.state_dir / "logs" / "stdout.log")
        self.pidfile.record(proc.pid)
        try:
            took = procs.wait_ready(
                lambda: broker_ready(self.bootstrap), proc.pid, self.start_timeout, f"the broker at {self.bootstrap}"
            )
        except StackError as exc:
            print(self.failure_report(), file=sys.stderr)
            self.stop()
            raise StackError(f"{exc} (see {self.state_dir / 'logs'})") from exc
        say("kafka", f"ready at {self.bootstrap} (pid {proc.pid}) after {took:.0f}s")

    def running(self) -> int | None:
        return self.pidfile.running()

    def stop(self) -> None:
        pid = self.pidfile.stop(30, "kafka")
        say("kafka", f"not running ({self.state_dir})" if pid is None else f"stopped (pid {pid})")

    def status(self) -> str | None:
        """A line for a running broker, None when it is not running."""
        if (pid := self.running()) is None:
            return None
        state = "running" if broker_ready(self.bootstrap) else "starting"
        return f"{state} (pid {pid}) at {self.bootstrap}"

    def reset(self) -> None:
        """Stop it and wipe its state (data, logs, config); the jars stay."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
