"""The supervisor's decisions on a local session (no broker): a stop before the start, a query that ends by
itself, a failure the quarantine may not or cannot trace to single offsets (exit 1 after one run, no restart
loop), and the canary that tells an environment's failure from the input's."""

import json
import logging

from pyspark.sql import functions as F

from app.contract import DEFAULT_RECORD_BYTES, RecordBudget
from app.settings import Settings
from app.shutdown import StopSignal
from app.spark.supervisor import canary, supervise

RECORDS = RecordBudget(DEFAULT_RECORD_BYTES)


def run(spark, tmp_path, quarantine: bool, make_query, stop: StopSignal | None = None):
    """supervise() with the job's checkpoint at tmp_path/job; what each start got and each end saw."""
    s = Settings.load(
        {"CHECKPOINT_LOCATION": str(tmp_path / "job"), "QUARANTINE": str(quarantine).lower(), "QUERY_NAME": "sup"}
    )
    starts, ends = [], []

    def start(quarantined):
        starts.append(dict(quarantined))
        return make_query()

    code = supervise(spark, s, RECORDS, start, stop or StopSignal(), lambda: None, ends.append)
    return code, starts, ends


def failing_query(spark, tmp_path):
    """A stream of its own (checkpoint apart from the job's) whose first batches fail on value 5."""
    frame = spark.readStream.format("rate").option("rowsPerSecond", 20).load()
    checked = frame.select(F.assert_true(F.col("value") != 5, "value 5 is poison").alias("checked"))
    return lambda: checked.writeStream.format("noop").option("checkpointLocation", str(tmp_path / "query")).start()


def test_a_stop_before_the_start_starts_nothing(spark, tmp_path):
    stop = StopSignal()
    stop.requested.set()
    assert run(spark, tmp_path, True, lambda: None, stop) == (0, [], [])


def test_a_query_that_ends_by_itself_is_a_clean_exit(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part.json").write_text('{"x": 1}\n{"x": 2}\n')
    frame = spark.readStream.schema("x int").json(str(tmp_path / "in"))
    writer = frame.writeStream.format("noop").trigger(availableNow=True)
    code, starts, ends = run(
        spark, tmp_path, True, lambda: writer.option("checkpointLocation", str(tmp_path / "query")).start()
    )
    assert (code, starts) == (0, [{}]) and len(ends) == 1 and not ends[0].isActive


def test_a_failure_without_the_quarantine_exits_1_after_one_run(spark, tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="app.spark.supervisor"):
        code, starts, ends = run(spark, tmp_path, False, failing_query(spark, tmp_path))
    assert (code, starts) == (1, [{}]) and ends[0].exception() is not None
    assert "query sup failed" in caplog.text and "value 5 is poison" in caplog.text


def test_a_failure_the_checkpoint_cannot_trace_exits_1_after_one_run(spark, tmp_path, caplog):
    """No uncommitted batch in the job's checkpoint: not the input's fault, so nothing is quarantined."""
    with caplog.at_level(logging.ERROR, logger="app.spark.supervisor"):
        code, starts, _ = run(spark, tmp_path, True, failing_query(spark, tmp_path))
    assert (code, starts) == (1, [{}])
    assert "no uncommitted batch in the checkpoint" in caplog.text
    assert not (tmp_path / "job" / "quarantine").exists()


def test_the_canary_is_one_known_good_message_in_the_first_language(spark):
    def fr_only(raw):
        lang = F.get_json_object(F.col("value").cast("string"), "$.lang")
        return raw.select(F.assert_true((lang == "fr") & (F.col("topic") == "canary"), "not the canary"))

    assert canary(spark, fr_only, "fr") is None
    broken = canary(spark, fr_only, "en")
    assert broken is not None and "not the canary" in broken
    seen = []
    canary(spark, lambda raw: seen.extend(raw.collect()) or raw, "en")
    assert json.loads(seen[0].value) == {"uuid": "canary", "text": "Ada Lovelace lived in London.", "lang": "en"}
