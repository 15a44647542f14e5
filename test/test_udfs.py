"""The Arrow side of the NER step: rows read from Arrow column by column, whatever a column holds, and the same
records through Spark's Arrow path (mapInArrow) as from the pure function."""

import json

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.annotate import annotate_rows, batch_stats
from app.contract import Row, Source
from app.spark.transform import annotate
from app.udfs import COLUMNS, HEADERS_TYPE, rows_of, to_batch
from test.helpers.annotating import CONFIG, VALUES, Loaded, context


def test_spark_gives_the_pure_function_s_records(spark, nlp):
    frame = spark.createDataFrame(
        [(b"k", v, "in", 0, i, None) for i, v in enumerate(VALUES)],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp",
    )
    got = annotate(frame.coalesce(1), CONFIG).collect()  # one Arrow batch
    expected, _ = annotate_rows(
        [Row(b"k", v, Source("in", 0, i, None)) for i, v in enumerate(VALUES)], Loaded(nlp), CONFIG
    )
    assert [r.reason for r in got] == [r.reason for r in expected]
    assert json.loads(got[0].value)["entities"] == json.loads(expected[0].value)["entities"]
    stats = json.loads(got[0].stats)  # one Arrow batch: its stats on its first row only
    assert stats["en"]["messages"] == 1 and stats["en"]["results"] == 1 and stats["en"]["model_load_seconds"] > 0
    assert stats["unknown"]["dead_letters"] == {"invalid_utf8": 1, "null_value": 1}
    assert stats["other"]["dead_letters"] == {"unsupported_lang": 1}
    assert all(r.stats is None for r in got[1:])


def batch_of(keys, values, topics, partitions, offsets, micros, poisons, headers=None) -> pa.RecordBatch:
    """An Arrow batch shaped as Spark hands it to the annotator (the timestamp as Spark's microseconds, UTC)."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array(keys, pa.binary()),
            pa.array(values, pa.binary()),
            pa.array(topics, pa.string()),
            pa.array(partitions, pa.int32()),
            pa.array(offsets, pa.int64()),
            pa.array(micros, pa.timestamp("us", tz="UTC")),
            pa.array(poisons, pa.string()),
            pa.array(headers or [None] * len(keys), HEADERS_TYPE),
        ],
        names=list(COLUMNS),
    )


def test_a_record_timestamp_outside_years_1_to_9999_is_that_record_s_dead_letter(nlp):
    """CreateTime -124271193600002 ms is accepted by the broker; read as a datetime it failed the whole batch."""
    message = json.dumps({"uuid": "a", "text": "Albert Einstein was born in Ulm.", "lang": "en"}).encode()
    micros = [-124271193600002 * 1000, 1_700_000_000_000_000, 2**63 - 1, -(2**63) + 1, None]
    rows = rows_of(batch_of([b"k"] * 5, [message] * 5, ["in"] * 5, [0] * 5, list(range(5)), micros, [None] * 5))
    out, _ = annotate_rows(rows, Loaded(nlp), CONFIG)
    assert [r.reason for r in out] == ["invalid_timestamp", None, "invalid_timestamp", "invalid_timestamp", None]
    letter = context(out[0].headers)
    assert "-124271193600002 ms" in letter["detail"] and letter["timestamp"] == "-62135596800000"  # clamped
    assert out[0].value == message
    assert json.loads(out[1].value)["received_at"] == "2023-11-14T22:13:20.000Z"
    assert json.loads(out[4].value)["received_at"] is None


int32 = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
int64 = st.one_of(st.none(), st.integers(-(2**63) + 1, 2**63 - 1), st.sampled_from([0, -1, 2**63 - 1]))
texts = st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",)), max_size=300))
source_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.binary(max_size=300)),
        st.one_of(st.none(), st.binary(max_size=300)),
        texts,
        int32,
        int64,
        int64,
        texts,
        st.one_of(
            st.none(),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "key": st.one_of(st.none(), st.text(max_size=50)),
                        "value": st.one_of(st.none(), st.binary(max_size=50)),
                    }
                ),
                max_size=5,
            ),
        ),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source_rows)
def test_no_source_row_fails_the_batch_whatever_its_columns_hold(nlp, rows):
    """Every column of the source row, with every extreme value Arrow can hold, is read behind the boundary."""
    batch = (
        batch_of(*(list(column) for column in zip(*rows, strict=True)))
        if rows
        else batch_of([], [], [], [], [], [], [], [])
    )
    out, seconds = annotate_rows(rows_of(batch), Loaded(nlp), CONFIG)
    assert len(out) == len(rows)
    for record, row in zip(out, rows, strict=True):
        if record.ok:
            json.loads(record.value)
        else:  # the original value, byte for byte, and the reason in the context
            assert record.value == row[1] and context(record.headers)["reason"] == record.reason
    to_batch(out, batch_stats(out, seconds, {}))
