"""Application metrics on a dedicated registry, updated from each micro-batch's progress."""

import json
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.contract import OBSERVATION, BatchStats, Reason
from app.workers.histograms import LangHistograms

METRIC_NAMES = (
    "ner_messages_in_total",
    "ner_results_out_total",
    "ner_dead_letters_total",
    "ner_entities_total",
    "ner_batches_total",
    "ner_offset_commits_total",
    "ner_offset_commit_failures_total",
    "ner_metrics_push_failures_total",
    "ner_input_rows_per_second",
    "ner_processed_rows_per_second",
    "ner_offsets_behind_latest",
    "ner_topic_offsets_behind",
    "ner_topic_offsets_processed",
    "ner_last_batch_timestamp_seconds",
    "ner_last_batch_duration_seconds",
    "ner_model_load_seconds",
    "ner_batch_duration_seconds",
    "ner_inference_batch_seconds",
    "ner_end_to_end_latency_seconds",
    "ner_message_inference_seconds",
    "ner_input_time_lag_seconds",
    "ner_running",
    "ner_consumer_group_info",
)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class AppMetrics:
    """`langs` are the configured languages: their series (and those of "other" and "unknown") exist from the
    start, so rate() sees the first increase."""

    def __init__(self, langs: tuple[str, ...] = (), consumer_group: str = "") -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        labels = (*langs, "other", "unknown")
        by_lang = ["lang"]
        self.messages_in = Counter("ner_messages_in", "Messages read from the input topic", by_lang, registry=r)
        self.results_out = Counter("ner_results_out", "Results written to the result topic", by_lang, registry=r)
        self.dead_letters = Counter(
            "ner_dead_letters", "Messages sent to the dead-letter topic", ["reason", "lang"], registry=r
        )
        self.entities = Counter("ner_entities", "Entities emitted in results", by_lang, registry=r)
        self.batches = Counter("ner_batches", "Completed micro-batches", registry=r)
        self.offset_commits = Counter("ner_offset_commits", "Offset commits to the consumer group", registry=r)
        self.offset_commit_failures = Counter("ner_offset_commit_failures", "Failed offset commits", registry=r)
        self.push_failures = Counter("ner_metrics_push_failures", "Failed Pushgateway pushes", registry=r)
        self.input_rate = Gauge("ner_input_rows_per_second", "Input rate of the last batch", registry=r)
        self.processed_rate = Gauge("ner_processed_rows_per_second", "Processing rate of the last batch", registry=r)
        self.behind = Gauge("ner_offsets_behind_latest", "Max offsets behind latest over partitions", registry=r)
        self.topic_behind = Gauge(
            "ner_topic_offsets_behind",
            "Offsets behind latest, summed over an input topic's partitions",
            ["topic"],
            registry=r,
        )
        self.topic_processed = Gauge(
            "ner_topic_offsets_processed",
            "The next offset to read, summed over an input topic's partitions: where the job has got to",
            ["topic"],
            registry=r,
        )
        self.last_batch = Gauge("ner_last_batch_timestamp_seconds", "When the last batch completed", registry=r)
        self.last_duration = Gauge("ner_last_batch_duration_seconds", "Duration of the last batch", registry=r)
        self.model_load = Gauge(
            "ner_model_load_seconds", "Latest spaCy model load time in a worker", by_lang, registry=r
        )
        self.batch_duration = Histogram(
            "ner_batch_duration_seconds", "Micro-batch duration", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.inference = Histogram(
            "ner_inference_batch_seconds",
            "spaCy time per Arrow batch and language",
            by_lang,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.latency = LangHistograms(
            "ner_end_to_end_latency_seconds",
            "Seconds from an input record's Kafka timestamp to its output record, built in the Python worker",
            labels,
        )
        self.message_inference = LangHistograms(
            "ner_message_inference_seconds", "spaCy time per message (its share of its call, by characters)", labels
        )
        r.register(self.latency)
        r.register(self.message_inference)
        # Time lag, estimated as Kafka tooling does (an upper bound): with offsets behind, the oldest unprocessed
        # record is at most as old as the newest record processed. 0 when the job's last batch left nothing behind.
        self.newest_received: float | None = None
        self.offsets_behind = 0.0
        self.time_lag = Gauge(
            "ner_input_time_lag_seconds", "Estimated age of the oldest unprocessed input record", registry=r
        )
        self.time_lag.set_function(self._time_lag)
        self.running = Gauge("ner_running", "1 while the job runs; 0 in the last push of a stop on purpose", registry=r)
        self.running.set(1)
        self.consumer_group = Gauge(
            "ner_consumer_group_info",
            "The consumer group this job commits to (Burrow's alerts join on it)",
            ["consumer_group"],
            registry=r,
        )
        if consumer_group:
            self.consumer_group.labels(consumer_group=consumer_group).set(1)
        for lang in labels:
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
        behind = [
            float(v)
            for src in progress.get("sources", [])
            for k, v in (src.get("metrics") or {}).items()
            if k == "maxOffsetsBehindLatest" and v is not None
        ]
        if behind:
            self.offsets_behind = max(behind)
            self.behind.set(self.offsets_behind)
        for src in progress.get("sources", []):
            self._observe_topics(src)
        observed = (progress.get("observedMetrics") or {}).get(OBSERVATION)
        if observed:
            for stats in observed.get("stats") or []:
                self.observe_stats(BatchStats.from_json(stats))

    def _observe_topics(self, source: Mapping[str, Any]) -> None:
        """Per input topic: where the job has got to (the batch's end offsets) and what is left (latest - end)."""
        end, latest = (_offsets(source.get(name)) for name in ("endOffset", "latestOffset"))
        for topic, partitions in end.items():
            self.topic_processed.labels(topic=topic).set(sum(partitions.values()))
            if topic in latest:
                behind = sum(max(0, latest[topic].get(p, o) - o) for p, o in partitions.items())
                self.topic_behind.labels(topic=topic).set(behind)

    def observe_stats(self, stats: BatchStats) -> None:
        """One Arrow batch's counts and timings per language (written by app/annotate.py batch_stats)."""
        for lang, s in stats.langs.items():
            self.messages_in.labels(lang=lang).inc(s.messages)
            self.results_out.labels(lang=lang).inc(s.results)
            self.entities.labels(lang=lang).inc(s.entities)
            for reason, count in s.dead_letters.items():
                self.dead_letters.labels(reason=reason, lang=lang).inc(count)
            if s.model_load_seconds is not None:
                self.model_load.labels(lang=lang).set(s.model_load_seconds)
            if s.inference_seconds is not None:
                self.inference.labels(lang=lang).observe(s.inference_seconds)
            self.latency.add(lang, s.latency)
            self.message_inference.add(lang, s.message_inference)
            if s.newest_received_ms is not None:
                self.newest_received = max(self.newest_received or 0.0, s.newest_received_ms / 1000)

    def _time_lag(self) -> float:
        if self.newest_received is None or self.offsets_behind <= 0:
            return 0.0
        return max(0.0, time.time() - self.newest_received)


def _offsets(raw: Any) -> dict[str, dict[str, int]]:
    """A Kafka source's offsets in a progress ({topic: {partition: offset}}, or its JSON text); {} for others."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict):
        return {}
    return {
        topic: {str(p): int(o) for p, o in partitions.items() if isinstance(o, int)}
        for topic, partitions in raw.items()
        if isinstance(partitions, dict)
    }
