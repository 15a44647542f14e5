"""The local stack (deploy/local/stack) as a test runs it: its own broker port and state dirs, not a developer's."""

from pathlib import Path


def stack_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """The stack's environment for a test: a broker on `port` (its controller on `port` + 1), the broker's, the
    monitoring's and the app's state under `tmp_path`; `extra` adds variables or replaces the ones set here."""
    return {
        "KAFKA_STATE_DIR": str(tmp_path / "kafka"),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(port + 1),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "MONITORING_STATE_DIR": str(tmp_path / "monitoring"),
        "APP_STATE_DIR": str(tmp_path / "app"),
        **extra,
    }
