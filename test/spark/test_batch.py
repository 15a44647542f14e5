"""Batch mode: files in, the stream's transform, result and dead-letter files out; identical to the stream."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from app.schemas import DEAD_LETTER_FILE_SCHEMA
from app.settings import Settings
from app.spark.batch import input_format, run_batch
from deploy.local.stack.clients import produce
from test.helpers.streams import BAD, outputs, run_to_end, stream_settings

REPO = Path(__file__).resolve().parents[2]
DOCS = 2000
# Every bad kind a line can carry (a JSON line cannot be a null value), in the middle of the file.
BAD_LINES = [(value, reason) for _, value, reason in BAD if value is not None]


def read_json_lines(directory: Path) -> list[dict]:
    return [json.loads(line) for part in sorted(directory.glob("part-*")) for line in part.read_text().splitlines()]


@pytest.fixture(scope="module")
def lines(corpus) -> list[bytes]:
    values = [json.dumps(d).encode() for d in corpus[:DOCS]]
    values[DOCS // 2 : DOCS // 2] = [value for value, _ in BAD_LINES]
    return values


@pytest.fixture(scope="module")
def jsonl_run(spark, lines, tmp_path_factory):
    """The batch job over a JSON Lines file (with a trailing blank line), run once for the module's tests."""
    root = tmp_path_factory.mktemp("batch")
    source = root / "docs.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n\n")
    summary = run_batch(spark, Settings.load({"APP_ENV": "testing"}), str(source), str(root / "out"))
    return source, root / "out", summary


def test_input_format_from_extension_or_choice():
    assert input_format("s3a://bucket/day=1/docs.jsonl") == "json"
    assert input_format("data/docs.parquet/") == "parquet"
    assert input_format("data/dir", "jsonl") == "json"
    with pytest.raises(ValueError, match="--input-format"):
        input_format("data/dir")


def test_batch_counts_every_row_once(jsonl_run):
    _, out, summary = jsonl_run
    assert summary.rows_in == DOCS + len(BAD_LINES) and summary.results_out == DOCS
    assert summary.dead_letters == pd.Series([r for _, r in BAD_LINES]).value_counts().to_dict()
    assert len(read_json_lines(out / "result")) == DOCS


def test_bad_rows_land_in_the_dead_letter_output_with_reasons_and_source(jsonl_run, lines):
    source, out, _ = jsonl_run
    dead = read_json_lines(out / "dead-letter")
    assert sorted((d["reason"], base64.b64decode(d["value"])) for d in dead) == sorted(
        (reason, value) for value, reason in BAD_LINES
    )
    for letter in dead:
        # source: the file and the 0-based line index, where the original line can be found again
        assert letter["source"]["topic"].endswith(str(source)) and letter["detail"]
        assert lines[letter["source"]["offset"]] == base64.b64decode(letter["value"])
        assert letter["failed_at"] and set(letter) == set(DEAD_LETTER_FILE_SCHEMA.fieldNames()) - {"key"}  # null key


@pytest.mark.slow
def test_batch_gives_the_same_records_as_the_stream(spark, jsonl_run, lines, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [(None, value) for value in lines])
    run_to_end(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt"))
    streamed = {r["value"]["uuid"]: r["value"] for r in outputs(kafka_bootstrap, topics[1], expected=DOCS)}
    streamed_dead = outputs(kafka_bootstrap, topics[2], expected=len(BAD_LINES))

    _, out, _ = jsonl_run
    batch = {r["uuid"]: r for r in read_json_lines(out / "result")}
    assert set(batch) == set(streamed) and len(batch) == DOCS
    same = ("uuid", "lang", "entities", "model")  # source and times say where and when, so they differ
    assert all({k: batch[u][k] for k in same} == {k: streamed[u][k] for k in same} for u in batch)
    assert sorted(
        (d["reason"], d["detail"], base64.b64decode(d["value"])) for d in read_json_lines(out / "dead-letter")
    ) == sorted((d["value"]["reason"], d["value"]["detail"], d["original"]) for d in streamed_dead)


def test_parquet_in_parquet_out_matches_json_lines(spark, corpus, jsonl_run, tmp_path):
    docs = pd.DataFrame(corpus[:200])
    docs.loc[3, "text"] = None  # a null column is a missing field, as in JSON
    docs.to_parquet(tmp_path / "docs.parquet")
    summary = run_batch(
        spark, Settings.load({"APP_ENV": "testing"}), str(tmp_path / "docs.parquet"), str(tmp_path / "out")
    )
    assert (summary.results_out, summary.dead_letters) == (199, {"missing_text": 1})
    results = pd.read_parquet(tmp_path / "out" / "result")
    dead = pd.read_parquet(tmp_path / "out" / "dead-letter")
    assert dead.loc[0, "reason"] == "missing_text" and dead.loc[0, "source"]["offset"] == 3

    from_jsonl = {r["uuid"]: r["entities"] for r in read_json_lines(jsonl_run[1] / "result")}
    for row in results.itertuples():
        assert [dict(e) for e in row.entities] == from_jsonl[row.uuid], row.uuid


def test_entry_point_batch_mode(corpus, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in corpus[:5]) + "{oops\n")
    env = {**os.environ, "APP_ENV": "testing", "SPARK_MASTER": "local[2]"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.run", "--mode", "batch", "--input", str(source), "--output", str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(read_json_lines(tmp_path / "out" / "result")) == 5
    assert [d["reason"] for d in read_json_lines(tmp_path / "out" / "dead-letter")] == ["invalid_json"]


@pytest.mark.parametrize(
    "args", [["--mode", "batch", "--output", "out"], ["--mode", "batch", "--input", "x.csv", "--output", "out"]]
)
def test_entry_point_rejects_incomplete_batch_arguments(args):
    proc = subprocess.run(
        [sys.executable, "-m", "app.run", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--input" in proc.stderr
