"""Application metrics on a dedicated registry, updated from each micro-batch's progress."""

import json
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.messages import Reason
from app.transform import OBSERVATION

METRIC_NAMES = (
    "ner_messages_in_total", "ner_results_out_total", "ner_dead_letters_total", "ner_entities_total",
    "ner_batches_total", "ner_offset_commits_total", "ner_offset_commit_failures_total",
    "ner_metrics_push_failures_total", "ner_input_rows_per_second", "ner_processed_rows_per_second",
    "ner_offsets_behind_latest", "ner_last_batch_timestamp_seconds", "ner_last_batch_duration_seconds",
    "ner_model_load_seconds", "ner_batch_duration_seconds", "ner_inference_seconds",
)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class AppMetrics:
    """`langs` are the configured languages: their series (and those of "other" and "unknown") exist from the
    start, so rate() sees the first increase."""

    def __init__(self, langs: tuple[str, ...] = ()) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        by_lang = ["lang"]
        self.messages_in = Counter("ner_messages_in", "Messages read from the input topic", by_lang, registry=r)
        self.results_out = Counter("ner_results_out", "Results written to the result topic", by_lang, registry=r)
        self.dead_letters = Counter("ner_dead_letters", "Messages sent to the dead-letter topic", ["reason", "lang"],
                                    registry=r)
        self.entities = Counter("ner_entities", "Entities emitted in results", by_lang, registry=r)
        self.batches = Counter("ner_batches", "Completed micro-batches", registry=r)
        self.offset_commits = Counter("ner_offset_commits", "Offset commits to the consumer group", registry=r)
        self.offset_commit_failures = Counter("ner_offset_commit_failures", "Failed offset commits", registry=r)
        self.push_failures = Counter("ner_metrics_push_failures", "Failed Pushgateway pushes", registry=r)
        self.input_rate = Gauge("ner_input_rows_per_second", "Input rate of the last batch", registry=r)
        self.processed_rate = Gauge("ner_processed_rows_per_second", "Processing rate of the last batch",
                                    registry=r)
        self.behind = Gauge("ner_offsets_behind_latest", "Max offsets behind latest over partitions", registry=r)
        self.last_batch = Gauge("ner_last_batch_timestamp_seconds", "When the last batch completed", registry=r)
        self.last_duration = Gauge("ner_last_batch_duration_seconds", "Duration of the last batch", registry=r)
        self.model_load = Gauge("ner_model_load_seconds", "Latest spaCy model load time in a worker", by_lang,
                                registry=r)
        self.batch_duration = Histogram("ner_batch_duration_seconds", "Micro-batch duration",
                                        buckets=_LATENCY_BUCKETS, registry=r)
        self.inference = Histogram("ner_inference_seconds", "spaCy time per Arrow batch and language", by_lang,
                                   buckets=_LATENCY_BUCKETS, registry=r)
        for lang in (*langs, "other", "unknown"):
            for counter in (self.messages_in, self.results_out, self.entities):
                counter.labels(lang=lang)
            for reason in Reason:
                self.dead_letters.labels(reason=reason.value, lang=lang)

    def observe_progress(self, progress: Mapping[str, Any], now: float) -> None:
        """Fold one StreamingQueryProgress (as a dict) into the metrics; cheap, called by the progress poller."""
        self.batches.inc()
        self.last_batch.set(now)
        self.input_rate.set(float(progress.get("inputRowsPerSecond") or 0.0))
        self.processed_rate.set(float(progress.get("processedRowsPerSecond") or 0.0))
        duration = float(progress.get("durationMs", {}).get("triggerExecution", 0)) / 1000
        self.last_duration.set(duration)
        self.batch_duration.observe(duration)
        behind = [float(v) for src in progress.get("sources", [])
                  for k, v in (src.get("metrics") or {}).items() if k == "maxOffsetsBehindLatest" and v is not None]
        if behind:
            self.behind.set(max(behind))
        observed = (progress.get("observedMetrics") or {}).get(OBSERVATION)
        if observed:
            for stats in observed.get("stats") or []:
                self.observe_stats(json.loads(stats))

    def observe_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        """One Arrow batch's counts and timings per language (app/udfs.py batch_stats)."""
        for lang, s in stats.items():
            self.messages_in.labels(lang=lang).inc(s.get("messages", 0))
            self.results_out.labels(lang=lang).inc(s.get("results", 0))
            self.entities.labels(lang=lang).inc(s.get("entities", 0))
            for reason, count in (s.get("dead_letters") or {}).items():
                self.dead_letters.labels(reason=reason, lang=lang).inc(count)
            if s.get("model_load_seconds") is not None:
                self.model_load.labels(lang=lang).set(float(s["model_load_seconds"]))
            if s.get("inference_seconds") is not None:
                self.inference.labels(lang=lang).observe(float(s["inference_seconds"]))
