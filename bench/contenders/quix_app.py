"""A Quix Streams application with the same step, one process per core in one consumer group.

Quix Streams processes one message at a time (StreamingDataFrame.apply), so spaCy sees one text per call.
`--guarantee exactly-once` runs it with processing_guarantee="exactly-once": results and offsets are written in
one Kafka transaction per commit (every second), visible to read_committed readers only once it commits.
"""

import argparse
import tempfile

from app.contract import InferenceError, Limits, Message
from app.inference.models import load_pipeline
from app.inference.ner import extract_entities
from app.messages import parse_message
from bench.contenders.common import arguments, run_workers, vocab_warmup

LIMITS = Limits(max_text_length=100_000, supported_langs=frozenset({"en"}))


def work(args: argparse.Namespace) -> None:
    from quixstreams import Application

    nlp = load_pipeline(args.model)
    warmup = vocab_warmup()
    # A state dir of its own per process: Quix creates ./state/<group> and the processes would race for it.
    state_dir = tempfile.mkdtemp(prefix="quix-state-")
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
        commit_interval=1.0,
        processing_guarantee=args.guarantee,
    )
    source = app.topic(args.input, value_deserializer="bytes")
    sink = app.topic(args.output, value_serializer="json")

    def ner(value: bytes) -> dict | None:
        message = parse_message(value, LIMITS)
        if not isinstance(message, Message):
            return None
        (entities,) = extract_entities(nlp, [message.text], keep_vocab=warmup.take([message.text]))
        if isinstance(entities, InferenceError):
            return None
        return {"uuid": message.uuid, "lang": message.lang, "entities": [e.__dict__ for e in entities]}

    sdf = app.dataframe(topic=source).apply(ner).filter(lambda v: v is not None)
    sdf.to_topic(sink)
    app.run()  # Quix handles SIGTERM itself: stops consuming, flushes, commits


GUARANTEES = ("at-least-once", "exactly-once")


def parser() -> argparse.ArgumentParser:
    p = arguments(__doc__)
    p.add_argument("--guarantee", choices=GUARANTEES, default="at-least-once", help="Quix's processing_guarantee")
    return p


def main() -> None:
    run_workers(work, parser().parse_args())


if __name__ == "__main__":
    from bench.contenders.quix_app import main as _main

    _main()
