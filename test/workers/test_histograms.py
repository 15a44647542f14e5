"""The workers' bucket counts exported as one Prometheus histogram per language, as the text format shows them."""

from prometheus_client import CollectorRegistry, generate_latest

from app.contract import SECONDS_BUCKETS, Histogram
from app.workers.histograms import LangHistograms


def counts(*seconds: float) -> Histogram:
    h = Histogram()
    for s in seconds:
        h.observe(s)
    return h


def test_bucket_counts_from_several_batches_add_up_cumulatively():
    registry = CollectorRegistry()
    latency = LangHistograms("ner_test_seconds", "test", ["en"])
    registry.register(latency)
    latency.add("en", counts(0.004, 0.3))
    latency.add("en", counts(0.3, 7200))  # above every bound: only +Inf counts it
    latency.add("fr", counts(1.5))  # a language first seen in a batch
    get = registry.get_sample_value
    assert get("ner_test_seconds_bucket", {"lang": "en", "le": "0.01"}) == 1
    assert get("ner_test_seconds_bucket", {"lang": "en", "le": "0.5"}) == 3
    assert get("ner_test_seconds_bucket", {"lang": "en", "le": f"{SECONDS_BUCKETS[-1]:g}"}) == 3
    assert get("ner_test_seconds_bucket", {"lang": "en", "le": "+Inf"}) == 4
    assert get("ner_test_seconds_count", {"lang": "en"}) == 4
    assert get("ner_test_seconds_sum", {"lang": "en"}) == 0.004 + 0.3 + 0.3 + 7200
    assert get("ner_test_seconds_count", {"lang": "fr"}) == 1
    assert b"# TYPE ner_test_seconds histogram" in generate_latest(registry)
