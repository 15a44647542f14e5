"""The local monitoring stack without Docker: Burrow (consumer lag and status), the Pushgateway (the driver pushes
metrics) and Prometheus (scrapes both and Burrow's /metrics, evaluates deploy/monitoring/alerts.yml), all on
127.0.0.1 in the background with recorded pids. The tools come from deploy/local/monitoring/install.sh."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .procs import REPO, PidFile, StackError, say

MONITORING_DIR = REPO / "deploy" / "local" / "monitoring"
ALERTS = REPO / "deploy" / "monitoring" / "alerts.yml"
HOST = "127.0.0.1"
NAMES = ("pushgateway", "burrow", "prometheus")  # the start order; stopped in reverse


def http_get(url: str) -> bytes | None:
    """The body of a 200 answer from one of the stack's http://127.0.0.1 endpoints; None for anything else."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URLs
            return response.read() if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


@dataclass(frozen=True)
class Monitoring:
    """Where the stack keeps its state, its ports, and Burrow's timing (see `from_env`)."""

    state_dir: Path
    bin_dir: Path
    bootstrap: str = "localhost:9092"
    ports: Mapping[str, int] = field(default_factory=lambda: {"burrow": 8000, "pushgateway": 9091, "prometheus": 9090})
    start_timeout: float = 30.0
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Monitoring:
        """KAFKA_BOOTSTRAP_SERVERS (read by Burrow) [localhost:9092], MONITORING_STATE_DIR [.local/monitoring],
        MONITORING_BIN_DIR (Burrow's binary) [.local/bin], BURROW_PORT [8000], PUSHGATEWAY_PORT [9091],
        PROMETHEUS_PORT [9090], MONITORING_START_TIMEOUT seconds per endpoint [30], and for the rendered configs
        PROMETHEUS_SCRAPE_INTERVAL [2s], PROMETHEUS_RETENTION [2d], BURROW_KAFKA_VERSION [4.0.0],
        BURROW_TOPIC_REFRESH [10], BURROW_OFFSET_REFRESH [5], BURROW_INTERVALS (its window, commits kept per
        partition) [10], BURROW_EXPIRE_CACHE [5], BURROW_LOG_LEVEL [info]."""
        defaults = {
            "PROMETHEUS_SCRAPE_INTERVAL": "2s",
            "PROMETHEUS_RETENTION": "2d",
            "BURROW_KAFKA_VERSION": "4.0.0",
            "BURROW_TOPIC_REFRESH": "10",
            "BURROW_OFFSET_REFRESH": "5",
            "BURROW_INTERVALS": "10",
            "BURROW_EXPIRE_CACHE": "5",
            "BURROW_LOG_LEVEL": "info",
        }
        return cls(
            state_dir=procs.repo_path(env.get("MONITORING_STATE_DIR", ".local/monitoring")),
            bin_dir=procs.repo_path(env.get("MONITORING_BIN_DIR", ".local/bin")),
            bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS") or "localhost:9092",
            ports={
                "burrow": int(env.get("BURROW_PORT", "8000")),
                "pushgateway": int(env.get("PUSHGATEWAY_PORT", "9091")),
                "prometheus": int(env.get("PROMETHEUS_PORT", "9090")),
            },
            start_timeout=float(env.get("MONITORING_START_TIMEOUT", "30")),
            settings={k: env.get(k, v) for k, v in defaults.items()},
        )

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    def address(self, name: str) -> str:
        return f"{HOST}:{self.ports[name]}"

    # --- configs --------------------------------------------------------------------------------------------

    def _render(self, template: str, out: Path, values: Mapping[str, object]) -> Path:
        text = (MONITORING_DIR / template).read_text()
        for name, value in values.items():
            text = text.replace(f"@{name}@", str(value))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        return out

    def render(self) -> Path:
        """Burrow's and Prometheus's configs into the state dir; the Prometheus one (and the rules it loads) is
        checked with promtool. Returns the rendered prometheus.yml."""
        s = self.settings
        self._render(
            "burrow.toml",
            self.state_dir / "burrow" / "burrow.toml",
            {
                "STATE_DIR": self.state_dir,
                "KAFKA_SERVERS": ", ".join(json.dumps(b) for b in self.bootstrap.split(",")),
                "KAFKA_VERSION": s["BURROW_KAFKA_VERSION"],
                "BURROW_PORT": self.ports["burrow"],
                "TOPIC_REFRESH": s["BURROW_TOPIC_REFRESH"],
                "OFFSET_REFRESH": s["BURROW_OFFSET_REFRESH"],
                "INTERVALS": s["BURROW_INTERVALS"],
                "EXPIRE_CACHE": s["BURROW_EXPIRE_CACHE"],
                "LOG_LEVEL": s["BURROW_LOG_LEVEL"],
            },
        )
        config = self._render(
            "prometheus.yml",
            self.state_dir / "prometheus" / "prometheus.yml",
            {
                "SCRAPE_INTERVAL": s["PROMETHEUS_SCRAPE_INTERVAL"],
                "ALERTS_FILE": ALERTS,
                "PUSHGATEWAY_ADDRESS": self.address("pushgateway"),
                "PROMETHEUS_ADDRESS": self.address("prometheus"),
                "BURROW_ADDRESS": self.address("burrow"),
            },
        )
        check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            raise StackError(f"promtool check config {config} failed:\n{check.stdout}{check.stderr}")
        return config

    # --- processes ------------------------------------------------------------------------------------------

    def command(self, name: str) -> list[str]:
        if name == "burrow":
            return [str(self.bin_dir / "Burrow"), "--config-dir", str(self.state_dir / "burrow")]
        if name == "pushgateway":
            return ["prometheus-pushgateway", f"--web.listen-address={self.address('pushgateway')}"]
        return [
            "prometheus",
            f"--config.file={self.state_dir / 'prometheus' / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.state_dir / 'prometheus' / 'data'}",
            f"--storage.tsdb.retention.time={self.settings['PROMETHEUS_RETENTION']}",
            f"--web.listen-address={self.address('prometheus')}",
            "--web.enable-lifecycle",
        ]

    def pidfile(self, name: str) -> PidFile:
        # The word of the command line that identifies the process (the same pid may later be another's).
        signature = {
            "burrow": str(self.bin_dir / "Burrow"),
            "pushgateway": "prometheus-pushgateway",
            "prometheus": f"--config.file={self.state_dir / 'prometheus' / 'prometheus.yml'}",
        }[name]
        return PidFile(self.state_dir / f"{name}.pid", signature)

    def ready(self, name: str) -> bool:
        """Burrow's HTTP server starts before its Kafka modules: it is ready once it has listed the topics."""
        if name == "burrow":
            body = http_get(f"{self.url(name)}/v3/kafka/local/topic")
            try:
                return body is not None and bool(json.loads(body).get("topics"))
            except ValueError:
                return False
        return http_get(f"{self.url(name)}/-/ready") is not None

    def missing_tools(self) -> list[str]:
        missing = [t for t in ("prometheus", "promtool", "prometheus-pushgateway") if shutil.which(t) is None]
        return missing + ([] if (self.bin_dir / "Burrow").is_file() else [str(self.bin_dir / "Burrow")])

    def _launch(self, name: str) -> None:
        if (pid := self.pidfile(name).running()) is not None:
            say("monitoring", f"{name} already running (pid {pid}) at {self.url(name)}")
            return
        if self.ready(name):
            raise StackError(
                f"{self.url(name)} already answers, but not from the {name} of {self.state_dir}; set its port variable"
            )
        log_path = self.state_dir / "logs" / f"{name}.log"
        proc = procs.spawn(self.command(name), log_path)
        self.pidfile(name).record(proc.pid)
        try:
            took = procs.wait_ready(lambda: self.ready(name), proc.pid, self.start_timeout, name, interval=0.3)
        except StackError as exc:
            raise StackError(f"{exc} (log: {log_path}):\n{procs.tail(log_path)}") from exc
        say("monitoring", f"{name} ready at {self.url(name)} (pid {proc.pid}) after {took:.0f}s")

    def start(self) -> None:
        """Start the three (those not running yet); the broker must serve requests. A failed start leaves
        nothing behind: all three are stopped."""
        if missing := self.missing_tools():
            raise StackError(f"{', '.join(missing)} not found: run `make monitoring-tools`")
        self.render()
        (self.state_dir / "prometheus" / "data").mkdir(parents=True, exist_ok=True)
        say("monitoring", f"Burrow reads {self.bootstrap}")
        try:
            for name in NAMES:
                self._launch(name)
            time.sleep(1)  # Burrow's consumer module starts just after its topic list appears: still alive?
            if not self.status_lines()[1]:
                raise StackError(
                    f"the stack did not stay up (logs: {self.state_dir / 'logs'}):\n"
                    + "\n".join(self.status_lines()[0])
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for name in reversed(NAMES):
            if (pid := self.pidfile(name).stop(10, name)) is not None:
                say("monitoring", f"{name} stopped (pid {pid})")

    def status_lines(self) -> tuple[list[str], bool]:
        """One line per component, and whether all three run and answer."""
        lines, ok = [], True
        for name in NAMES:
            pid = self.pidfile(name).running()
            if pid is None:
                lines.append(f"{name}: not running ({self.state_dir})")
                ok = False
            elif self.ready(name):
                lines.append(f"{name}: running (pid {pid}) at {self.url(name)}")
            else:
                lines.append(f"{name}: not answering (pid {pid}) at {self.url(name)}")
                ok = False
        return lines, ok
