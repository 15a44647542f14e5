"""The one versioned mapping from each model's labels to the entity types consumers see (PERSON, ORGANIZATION,
LOCATION, OTHER): part of the output contract, written into every result as `model.types`."""

from collections.abc import Mapping

# Version of ENTITY_TYPES, written into every result (`model.types`): bump it whenever a label moves.
ENTITY_TYPES_VERSION = "1"
ENTITY_TYPES: Mapping[str, str] = {
    # OntoNotes (en_core_web_*), WikiNER (fr/de/es/it/pt..._core_news_*), and common custom names.
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
}
OTHER = "OTHER"


def entity_type(label: str) -> str:
    """The type consumers see for a model's label; every label not listed is OTHER (dates, amounts, MISC...)."""
    return ENTITY_TYPES.get(label, OTHER)
