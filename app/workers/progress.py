"""The progress listener: hands each completed micro-batch's progress to the side workers."""

import json
import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener

log = logging.getLogger(__name__)
ProgressFn = Callable[[dict[str, Any]], None]


class ProgressListener(StreamingQueryListener):
    """Hands each completed batch's progress to the workers and returns at once (it must not block)."""

    def __init__(self, query_name: str, on_progress: ProgressFn) -> None:
        self._query_name = query_name
        self._on_progress = on_progress

    def onQueryStarted(self, event: Any) -> None:
        log.info("query %s started (id %s, run %s)", event.name, event.id, event.runId)

    def onQueryProgress(self, event: Any) -> None:
        progress = json.loads(event.progress.json)
        if progress.get("name") == self._query_name:
            log.debug("batch %s: %s rows, durations ms %s", progress.get("batchId"), progress.get("numInputRows"),
                      progress.get("durationMs"))
            self._on_progress(progress)

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        log.info("query %s terminated%s", event.id, f" with error: {event.exception}" if event.exception else "")
