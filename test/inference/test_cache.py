"""A worker's models: loaded once per worker and config, out of the collector's reach, vocab warm-up bounded."""

from app.inference import cache
from test.helpers.annotating import CONFIG


def test_a_worker_loads_the_model_once_and_reports_that_load(monkeypatch):
    monkeypatch.setattr(cache, "_MODELS", {})
    models = cache.worker_models(CONFIG)
    nlp, _ = models.get("en")
    assert cache.worker_models(CONFIG) is models and models.get("en")[0] is nlp
    assert list(models.load_seconds) == ["en"] and models.load_seconds["en"] > 0


def test_a_worker_keeps_the_words_of_its_first_characters_only(monkeypatch, corpus):
    """VOCAB_WARMUP_CHARS: the first texts' words stay in the vocab; later calls run in a memory zone."""
    from dataclasses import replace

    monkeypatch.setattr(cache, "_MODELS", {})
    texts = [d["text"] for d in corpus[:12]]
    config = replace(CONFIG, vocab_warmup_chars=sum(len(t) for t in texts[:4]))
    nlp, infer = cache.worker_models(config).get("en")
    start = len(nlp.vocab.strings)
    sizes = []
    for i in range(0, 12, 4):
        assert all(isinstance(o, list) for o in infer(texts[i : i + 4]))
        sizes.append(len(nlp.vocab.strings))
    assert sizes[0] > start and sizes[0] == sizes[1] == sizes[2]


def test_a_loaded_model_is_out_of_the_collectors_reach(monkeypatch):
    """pyspark's worker runs gc.collect() after every task: it must not walk the model's objects each time."""
    import gc

    monkeypatch.setattr(cache, "_MODELS", {})
    gc.unfreeze()
    try:
        nlp, _ = cache.worker_models(CONFIG).get("en")
        assert gc.get_freeze_count() > 0
        assert not any(o is nlp for o in gc.get_objects())
    finally:
        gc.unfreeze()
