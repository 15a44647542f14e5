"""App metrics from the query's progress: counts, timings and lag per language, every declared name exported."""

from app.contract import BatchStats, LangStats
from app.workers.metrics import METRIC_NAMES, AppMetrics


def stats() -> list[str]:
    """Two Arrow batches' stats as the Python workers write them (app/contract.py BatchStats)."""
    en = LangStats(
        6, 5, 20, {"empty_text": 1}, inference_seconds=0.1, model_load_seconds=0.8, newest_received_ms=990_000
    )
    for seconds in (0.2, 0.3, 4.0, 4.0, 4.0):
        en.latency.observe(seconds)
        en.message_inference.observe(0.02)
    fr = LangStats(2, 2, 10, inference_seconds=0.2, newest_received_ms=995_000)
    unknown = LangStats(2, 0, 0, {"invalid_json": 2})
    return [BatchStats({"en": en, "unknown": unknown}).to_json(), BatchStats({"fr": fr}).to_json()]


PROGRESS = {
    "batchId": 3,
    "inputRowsPerSecond": 120.5,
    "processedRowsPerSecond": 99.0,
    "durationMs": {"triggerExecution": 1500},
    "sources": [{"metrics": {"maxOffsetsBehindLatest": "42", "avgOffsetsBehindLatest": "20.0"}}],
    "observedMetrics": {"ner": {"messages_in": 10, "stats": stats()}},
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
    assert value(r, "ner_inference_batch_seconds_count", {"lang": "en"}) == 1
    assert value(r, "ner_inference_batch_seconds_count", {"lang": "fr"}) == 1
    assert value(r, "ner_model_load_seconds", {"lang": "en"}) == 0.8


def test_every_declared_name_is_exported():
    m = AppMetrics()
    m.observe_progress(PROGRESS, now=1.0)
    exported = {metric.name + ("_total" if metric.type == "counter" else "") for metric in m.registry.collect()}
    assert exported == set(METRIC_NAMES)


def test_end_to_end_latency_and_inference_per_message_are_histograms_per_language():
    m = AppMetrics(("en", "fr"))
    m.observe_progress(PROGRESS, now=1000.0)
    r = m.registry
    assert value(r, "ner_end_to_end_latency_seconds_count", {"lang": "en"}) == 5
    assert value(r, "ner_end_to_end_latency_seconds_bucket", {"lang": "en", "le": "0.25"}) == 1
    assert value(r, "ner_end_to_end_latency_seconds_bucket", {"lang": "en", "le": "5"}) == 5
    assert value(r, "ner_end_to_end_latency_seconds_sum", {"lang": "en"}) == 12.5
    assert value(r, "ner_end_to_end_latency_seconds_count", {"lang": "fr"}) == 0  # exists from the start
    assert value(r, "ner_message_inference_seconds_bucket", {"lang": "en", "le": "0.025"}) == 5


def test_time_lag_is_the_newest_processed_record_s_age_while_offsets_wait(monkeypatch):
    m = AppMetrics(("en", "fr"))
    m.observe_progress(PROGRESS, now=1000.0)
    monkeypatch.setattr("app.workers.metrics.time.time", lambda: 1005.0)
    assert value(m.registry, "ner_input_time_lag_seconds") == 10.0  # 1005 s - the newest record, 995 s
    idle = {**PROGRESS, "observedMetrics": {}, "sources": [{"metrics": {"maxOffsetsBehindLatest": "0"}}]}
    m.observe_progress(idle, now=1001.0)
    assert value(m.registry, "ner_input_time_lag_seconds") == 0.0  # nothing waits


def test_the_job_says_whether_it_runs_and_which_group_it_commits_to():
    m = AppMetrics(("en",), "ner-service")
    assert value(m.registry, "ner_running") == 1
    assert value(m.registry, "ner_consumer_group_info", {"consumer_group": "ner-service"}) == 1


def test_offsets_processed_and_behind_per_input_topic():
    m = AppMetrics()
    source = {
        "startOffset": {"a": {"0": 10, "1": 5}, "b": {"0": 0}},
        "endOffset": {"a": {"0": 15, "1": 6}, "b": {"0": 4}},
        "latestOffset": '{"a": {"0": 20, "1": 6}, "b": {"0": 4}}',  # Spark gives some as JSON text
        "metrics": {},
    }
    m.observe_progress({"sources": [source]}, now=1.0)
    m.observe_progress({"sources": [{**source, "startOffset": source["endOffset"]}]}, now=2.0)
    r = m.registry
    assert value(r, "ner_topic_offsets_processed", {"topic": "a"}) == 21
    assert value(r, "ner_topic_offsets_processed", {"topic": "b"}) == 4
    assert (
        value(r, "ner_topic_offsets_behind", {"topic": "a"}) == 5
        and value(r, "ner_topic_offsets_behind", {"topic": "b"}) == 0
    )
