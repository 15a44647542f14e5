"""The driver's logging: text (time, level, logger, message) by default, or one JSON object a line
(LOG_FORMAT=json: time, level, logger, message, and the query's run id and batch id once known) for log stores."""

from __future__ import annotations

import logging
import time

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The streaming query's run id and last batch id, set by the progress poller (app/workers/progress.py): every later
# log line carries them, from whichever thread it comes.
QUERY: dict[str, str | int] = {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **QUERY,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for noisy in ("py4j", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def set_query(run_id: str, batch_id: int) -> None:
    """The query's run and batch that later lines belong to (the latest handed on by the progress poller)."""
    QUERY.update(run_id=run_id, batch_id=batch_id)
