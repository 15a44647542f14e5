"""Pushes the app's registry plus Spark's own Prometheus metrics to a Pushgateway on an interval.

Grouping key: job = the deployment's cluster name, instance = a stable name (never a run id), so a restarted
job overwrites its own series. On clean shutdown we push a final state and leave it there: the Pushgateway
never forgets series, so dashboards keep the last values and the `push_time_seconds` of the group tells how
old they are (the JobDown alert fires on that).
"""

import logging
import urllib.request
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import basic_auth_handler, default_handler, push_to_gateway
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from app.workers.worker import Worker

log = logging.getLogger(__name__)
PushFn = Callable[[CollectorRegistry], None]


class SparkMetricsCollector:
    """Re-exposes Spark's PrometheusServlet text (driver and executors) as collected families."""

    def __init__(self, urls: Callable[[], Sequence[str]], timeout: float = 5.0) -> None:
        self._urls = urls
        self._timeout = timeout

    def collect(self) -> Iterable[Metric]:
        seen: set[str] = set()
        for url in self._urls():
            try:
                with urllib.request.urlopen(url, timeout=self._timeout) as response:  # noqa: S310 - our own UI
                    text = response.read().decode("utf-8")
            except OSError as exc:
                log.debug("spark metrics from %s unavailable: %s", url, exc)
                continue
            for family in text_string_to_metric_families(text):
                if family.name not in seen:  # the same family from two endpoints would be rejected
                    seen.add(family.name)
                    yield family


def spark_metrics_urls(ui_url: str | None) -> list[str]:
    if not ui_url:
        return []
    base = ui_url.rstrip("/")
    return [f"{base}/metrics/prometheus/", f"{base}/metrics/executors/prometheus/"]


def pushgateway(url: str, job: str, instance: str, username: str = "", password: str = "") -> PushFn:
    """A push function for a real Pushgateway; tests pass their own server's URL."""

    def handler(url: str, method: str, timeout: float | None, headers: list, data: bytes) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    def push(registry: CollectorRegistry) -> None:
        push_to_gateway(
            url,
            job=job,
            registry=registry,
            grouping_key={"instance": instance},
            timeout=10,
            handler=handler if username else default_handler,
        )

    return push


class MetricsPusher(Worker):
    name = "metrics-pusher"

    def __init__(
        self, registry: CollectorRegistry, push: PushFn, interval: float, on_failure: Callable[[], None] = lambda: None
    ) -> None:
        super().__init__(interval)
        self._registry, self._push, self._on_failure = registry, push, on_failure
        self.pushes = 0

    def step(self) -> None:
        try:
            self._push(self._registry)
        except Exception:
            self._on_failure()
            raise
        self.pushes += 1
