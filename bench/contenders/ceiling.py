"""The hardware ceiling: nlp.pipe over the texts directly, one process per core, no Kafka and no Spark."""

import multiprocessing as mp
import os
import resource
import time

from app.contract import InferenceError
from app.inference.models import load_pipeline
from app.inference.ner import extract_entities
from bench.contenders.common import MODEL, SINGLE_THREAD_ENV


def _work(index: int, texts: list[str], batch_size: int, barrier, queue) -> None:
    nlp = load_pipeline(MODEL)
    barrier.wait()
    cpu0, started = time.process_time(), time.perf_counter()
    found = extract_entities(nlp, texts, batch_size)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    # Counted after the clock: tokenizing the texts before it would fill the tokenizer's cache with exactly the
    # words the timed run then looks up, a head start no contender gets.
    # spaCy types Language.tokenizer as a plain callable; a loaded pipeline's is a Tokenizer, which has pipe().
    tokens = [len(d) for d in nlp.tokenizer.pipe(texts)]  # type: ignore[union-attr]
    # A text the model failed on has no reference entities (None): a contender's result for it counts as differing.
    entities = [None if isinstance(f, InferenceError) else [e.__dict__ for e in f] for f in found]
    queue.put(
        {
            "index": index,
            "elapsed": elapsed,
            "cpu": cpu,
            "tokens": tokens,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "entities": entities,
        }
    )


def run(texts: list[str], workers: int, batch_size: int = 64) -> dict:
    """Texts are dealt round-robin, so every process gets the same mix of lengths."""
    os.environ.update(SINGLE_THREAD_ENV)
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    shares = [texts[i::workers] for i in range(workers)]
    procs = [ctx.Process(target=_work, args=(i, share, batch_size, barrier, queue)) for i, share in enumerate(shares)]
    for p in procs:
        p.start()
    ordered = sorted((queue.get(timeout=1800) for _ in procs), key=lambda o: o["index"])
    for p in procs:
        p.join(timeout=60)
    entities, tokens = [None] * len(texts), [0] * len(texts)
    for w, out in enumerate(ordered):
        for j, (e, t) in enumerate(zip(out["entities"], out["tokens"], strict=True)):
            entities[w + j * workers], tokens[w + j * workers] = e, t
    wall = max(o["elapsed"] for o in ordered)
    return {
        "seconds": wall,
        "cpu_seconds": sum(o["cpu"] for o in ordered),
        "tokens": tokens,
        "entities": entities,
        "peak_rss": {"python": {"processes": workers, "peak_rss_mb": round(max(o["peak_rss_mb"] for o in ordered), 1)}},
    }
