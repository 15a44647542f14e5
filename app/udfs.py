"""The NER step as an Arrow-native function (`mapInArrow`): raw Kafka rows in, finished Kafka records out.

No pandas, no struct conversion: each Arrow batch is read column by column into rows (a value that cannot be read
costs its own row, never the batch), annotated behind the per-message boundary (app/annotate.py), and returned as
bytes the JVM only routes, with the batch's stats for the driver's metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from app.annotate import annotate_rows, batch_stats
from app.contract import (
    Annotated,
    BatchStats,
    Headers,
    Reason,
    Rejection,
    Row,
    Source,
    clamp_timestamp_ms,
    timestamp_in_range,
)
from app.inference.batching import describe
from app.inference.cache import worker_models
from app.inference.config import InferenceConfig
from app.kafka.transactions import TransactionConfig, Writers
from app.schemas import ANNOTATED_SCHEMA

ARROW_SCHEMA = to_arrow_schema(ANNOTATED_SCHEMA)
COLUMNS = ("key", "value", "topic", "partition", "offset", "timestamp", "poison", "headers")
HEADERS_TYPE = ARROW_SCHEMA.field("headers").type


def _column(batch: pa.RecordBatch, name: str) -> pa.Array:
    column = batch.column(name)
    if name == "timestamp":
        # Microseconds since the epoch as integers whatever the session's time zone: never datetime objects,
        # which cannot hold a CreateTime outside the years 1-9999 (any int64 is a valid Kafka timestamp).
        column = column.cast(pa.int64())
    return column


def _values(column: pa.Array, errors: list[str | None]) -> list[Any]:
    """The column's Python values; a value that cannot be read is None and its row's error is set."""
    try:
        return column.to_pylist()
    except Exception:  # noqa: BLE001 - read value by value, so that only the culprit's row fails
        values: list[Any] = []
        for i in range(len(column)):
            try:
                values.append(column[i].as_py())
            except Exception as exc:  # noqa: BLE001 - this row's dead letter
                values.append(None)
                errors[i] = errors[i] or describe(exc)
        return values


def _source(topic: Any, partition: Any, offset: Any, micros: Any) -> Source:
    received = clamp_timestamp_ms(micros // 1000) if isinstance(micros, int) else None
    return Source(
        topic if isinstance(topic, str) else "",
        partition if isinstance(partition, int) else -1,
        offset if isinstance(offset, int) else -1,
        received,
    )


def _headers(raw: Any) -> Headers:
    """Spark's headers column ([{key, value}, ...] or null) as (name, value) pairs; a name that is not text,
    or would not encode as UTF-8, is kept as its escaped text (the record goes on, with what it carried)."""
    if not isinstance(raw, list):
        return ()
    pairs = []
    for header in raw:
        if not isinstance(header, dict):
            continue
        name, value = header.get("key"), header.get("value")
        name = name.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(name, str) else ""
        pairs.append((name, value if isinstance(value, bytes) else None))
    return tuple(pairs)


def _rejected(error: str | None, micros: Any) -> Rejection | None:
    if error is not None:
        return Rejection(Reason.INTERNAL_ERROR, f"reading the row raised {error}")
    if isinstance(micros, int) and not timestamp_in_range(micros // 1000):
        return Rejection(
            Reason.INVALID_TIMESTAMP, f"the record's timestamp {micros // 1000} ms is outside the years 1-9999"
        )
    return None


def rows_of(batch: pa.RecordBatch) -> list[Row]:
    """The rows of one Arrow batch of (key, value, topic, partition, offset, timestamp, poison, headers)."""
    errors: list[str | None] = [None] * batch.num_rows
    columns = {}
    for name in COLUMNS:
        try:
            columns[name] = _values(_column(batch, name), errors)
        except Exception as exc:  # noqa: BLE001 - a column that cannot even be cast: every row says so
            columns[name] = [None] * batch.num_rows
            errors = [e or f"column {name}: {describe(exc)}" for e in errors]
    return [
        Row(k, v, _source(t, p, o, ts), q, _rejected(e, ts), _headers(h))
        for k, v, t, p, o, ts, q, h, e in zip(*(columns[name] for name in COLUMNS), errors, strict=True)
    ]


def to_batch(records: list[Annotated], stats: BatchStats, payload: bool = True) -> pa.RecordBatch:
    """The records as ANNOTATED_SCHEMA rows; without `payload` (written already) only what the metrics read."""
    nothing = [None] * len(records)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([r.ok for r in records], pa.bool_()),
            pa.array([r.key for r in records] if payload else nothing, pa.binary()),
            pa.array([r.value for r in records] if payload else nothing, pa.binary()),
            pa.array(
                [[{"key": k, "value": v} for k, v in r.headers] for r in records] if payload else nothing,
                HEADERS_TYPE,
            ),
            pa.array([r.reason for r in records], pa.string()),
            pa.array([stats.to_json()] + [None] * (len(records) - 1) if records else [], pa.string()),
        ],
        schema=ARROW_SCHEMA,
    )


def make_annotator(
    config: InferenceConfig, transactions: TransactionConfig | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function for `DataFrame.mapInArrow(..., ANNOTATED_SCHEMA)`; it closes over plain data only.

    With `transactions` (exactly-once) the records are written here, each Arrow batch in one transaction per input
    partition with its offsets, after skipping the rows a committed transaction already has
    (app/kafka/transactions.py); the rows returned carry only what the metrics read.
    """

    def annotator(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        models = worker_models(config)
        for batch in batches:
            records, seconds = annotate_rows(rows_of(batch), models, config)
            yield to_batch(records, batch_stats(records, seconds, models.take_load_seconds()))

    def transactional_annotator(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        assert transactions is not None
        models = worker_models(config)
        writers = Writers(transactions)
        try:
            for batch in batches:
                rows = writers.unwritten(rows_of(batch))
                records, seconds = annotate_rows(rows, models, config)
                writers.write(rows, records)
                yield to_batch(records, batch_stats(records, seconds, models.take_load_seconds()), payload=False)
        finally:
            writers.close()

    return annotator if transactions is None else transactional_annotator
