"""App metrics from query progress, and pushes to a real HTTP endpoint."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from prometheus_client import CollectorRegistry, Gauge

from app.workers.metrics import METRIC_NAMES, AppMetrics
from app.workers.metrics_push import MetricsPusher, SparkMetricsCollector, pushgateway

PROGRESS = {
    "batchId": 3, "inputRowsPerSecond": 120.5, "processedRowsPerSecond": 99.0,
    "durationMs": {"triggerExecution": 1500},
    "sources": [{"metrics": {"maxOffsetsBehindLatest": "42", "avgOffsetsBehindLatest": "20.0"}}],
    "observedMetrics": {"ner": {"messages_in": 10, "stats": [
        json.dumps({"en": {"messages": 6, "results": 5, "entities": 20, "dead_letters": {"empty_text": 1},
                           "inference_seconds": 0.1, "model_load_seconds": 0.8},
                    "unknown": {"messages": 2, "results": 0, "entities": 0, "dead_letters": {"invalid_json": 2}}}),
        json.dumps({"fr": {"messages": 2, "results": 2, "entities": 10, "dead_letters": {}, "inference_seconds": 0.2}}),
    ]}},
}


def value(registry, name, labels=None):
    return registry.get_sample_value(name, labels or {})


def test_progress_becomes_metrics():
    m = AppMetrics(("en", "fr"))
    m.observe_progress(PROGRESS, now=1000.0)
    r = m.registry
    assert value(r, "ner_messages_in_total", {"lang": "en"}) == 6
    assert value(r, "ner_results_out_total", {"lang": "fr"}) == 2
    assert value(r, "ner_dead_letters_total", {"reason": "invalid_json", "lang": "unknown"}) == 2
    assert value(r, "ner_dead_letters_total", {"reason": "null_value", "lang": "en"}) == 0  # exists from the start
    assert value(r, "ner_entities_total", {"lang": "en"}) == 20 and value(r, "ner_entities_total", {"lang": "fr"}) == 10
    assert value(r, "ner_batches_total") == 1
    assert value(r, "ner_offsets_behind_latest") == 42 and value(r, "ner_input_rows_per_second") == 120.5
    assert value(r, "ner_last_batch_duration_seconds") == 1.5 and value(r, "ner_last_batch_timestamp_seconds") == 1000
    assert value(r, "ner_inference_seconds_count", {"lang": "en"}) == 1
    assert value(r, "ner_inference_seconds_count", {"lang": "fr"}) == 1
    assert value(r, "ner_model_load_seconds", {"lang": "en"}) == 0.8


def test_every_declared_name_is_exported():
    m = AppMetrics()
    m.observe_progress(PROGRESS, now=1.0)
    exported = {metric.name + ("_total" if metric.type == "counter" else "") for metric in m.registry.collect()}
    assert exported == set(METRIC_NAMES)


class Recorder(BaseHTTPRequestHandler):
    bodies: list = []
    status = 200

    def do_PUT(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.bodies.append((self.path, self.headers.get("Authorization"), body.decode()))
        self.send_response(Recorder.status)
        self.end_headers()

    def do_GET(self):  # noqa: N802 - serves a Spark-like PrometheusServlet page
        body = b'metrics_ner_driver_BlockManager_memory_maxMem_MB_Number{type="gauges"} 434\n'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    Recorder.bodies, Recorder.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_pusher_pushes_with_a_stable_grouping_key_and_a_final_push(http_server):
    registry = CollectorRegistry()
    Gauge("ner_example", "x", registry=registry).set(3)
    registry.register(SparkMetricsCollector(lambda: [f"{http_server}/metrics/prometheus/"]))
    pusher = MetricsPusher(registry, pushgateway(http_server, "cluster-a", "driver", "user", "pw"), interval=60)
    pusher.start()
    pusher.stop()  # the interval never elapsed: this is the final push alone
    assert len(Recorder.bodies) == 1
    path, auth, body = Recorder.bodies[0]
    assert path == "/metrics/job/cluster-a/instance/driver"
    assert auth and auth.startswith("Basic ")
    assert "ner_example 3.0" in body and "metrics_ner_driver_BlockManager_memory_maxMem_MB_Number" in body


def test_push_failures_are_counted(http_server):
    Recorder.status = 500
    failures = []
    pusher = MetricsPusher(CollectorRegistry(), pushgateway(http_server, "j", "i"), interval=60,
                           on_failure=lambda: failures.append(1))
    pusher.final_attempts, pusher.final_retry_delay = 2, 0.0
    pusher.start()
    pusher.stop()
    assert len(failures) == 2 and pusher.pushes == 0


def test_unreachable_spark_endpoint_yields_nothing():
    assert list(SparkMetricsCollector(lambda: ["http://127.0.0.1:9/metrics/prometheus/"], timeout=0.5).collect()) == []
