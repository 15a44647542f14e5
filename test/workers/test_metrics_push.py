"""The metrics pusher against a tiny recording HTTP server on loopback (it plays the Pushgateway's and Spark's
HTTP side, not their logic): the grouping key in the path, basic auth when configured, Spark's metrics re-exposed
once per family, a failed push counted and never raised."""

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from prometheus_client import CollectorRegistry, Gauge

from app.workers.metrics_push import MetricsPusher, SparkMetricsCollector, pushgateway, spark_metrics_urls

SPARK_PAGE = b'metrics_ner_driver_BlockManager_memory_maxMem_MB_Number{type="gauges"} 434\n'


class Recording(BaseHTTPRequestHandler):
    """Records every push (method, path, Authorization, body), answers with `status`; serves SPARK_PAGE on GET."""

    pushes: list[tuple[str, str, str | None, str]] = []
    status = 200

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recording.pushes.append((self.command, self.path, self.headers.get("Authorization"), body.decode()))
        self.send_response(Recording.status)
        self.end_headers()

    do_PUT = do_POST = _record  # noqa: N815 - http.server API

    def do_GET(self):  # noqa: N802 - http.server API
        self.send_response(200)
        self.send_header("Content-Length", str(len(SPARK_PAGE)))
        self.end_headers()
        self.wfile.write(SPARK_PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_server() -> Iterator[str]:
    Recording.pushes, Recording.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Recording)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_pusher_pushes_with_a_stable_grouping_key_and_a_final_push(recording_server):
    registry = CollectorRegistry()
    Gauge("ner_example", "x", registry=registry).set(3)
    registry.register(SparkMetricsCollector(lambda: [f"{recording_server}/metrics/prometheus/"]))
    pusher = MetricsPusher(registry, pushgateway(recording_server, "cluster-a", "driver", "user", "pw"), interval=60)
    pusher.start()
    pusher.stop()  # the interval never elapsed: this is the final push alone
    assert len(Recording.pushes) == 1 and pusher.pushes == 1
    method, path, auth, body = Recording.pushes[0]
    assert (method, path) == ("PUT", "/metrics/job/cluster-a/instance/driver")  # PUT: the group is replaced
    assert auth == "Basic " + base64.b64encode(b"user:pw").decode()
    assert "ner_example 3.0" in body and "metrics_ner_driver_BlockManager_memory_maxMem_MB_Number" in body


def test_without_a_username_no_credentials_are_sent(recording_server):
    pushgateway(recording_server, "j", "i")(CollectorRegistry())
    assert [(m, p, a) for m, p, a, _ in Recording.pushes] == [("PUT", "/metrics/job/j/instance/i", None)]


@pytest.mark.parametrize("reachable", [True, False], ids=["http-500", "connection-refused"])
def test_push_failures_are_counted_not_raised(recording_server, reachable):
    Recording.status = 500
    url = recording_server if reachable else "http://127.0.0.1:9"
    failures = []
    pusher = MetricsPusher(
        CollectorRegistry(), pushgateway(url, "j", "i"), interval=60, on_failure=lambda: failures.append(1)
    )
    pusher.final_attempts, pusher.final_retry_delay = 2, 0.0
    pusher.start()
    pusher.stop()  # returns: the final push failed twice, and that is counted
    assert len(failures) == 2 and pusher.errors == 2 and pusher.pushes == 0
    assert len(Recording.pushes) == (2 if reachable else 0)
    pusher.raise_for_error()  # the worker itself did not die


def test_spark_families_are_collected_once_and_an_unreachable_endpoint_is_skipped(recording_server):
    urls = spark_metrics_urls(recording_server + "/")
    assert urls == [f"{recording_server}/metrics/prometheus/", f"{recording_server}/metrics/executors/prometheus/"]
    collector = SparkMetricsCollector(lambda: ["http://127.0.0.1:9/metrics/prometheus/", *urls], timeout=0.5)
    families = list(collector.collect())
    assert [f.name for f in families] == ["metrics_ner_driver_BlockManager_memory_maxMem_MB_Number"]
    assert [s.value for s in families[0].samples] == [434.0]
    assert spark_metrics_urls(None) == spark_metrics_urls("") == []
