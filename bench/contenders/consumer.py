"""Plain kafka-python microservice: consumer -> nlp.pipe -> producer, one process per core, one consumer group.

At-least-once: a batch's offsets are committed only after its results are flushed to the broker.
"""

import argparse

from app.contract import InferenceError, Limits, Message
from app.inference.models import load_pipeline
from app.inference.ner import extract_entities
from app.messages import parse_message
from bench.contenders.common import arguments, result_value, run_workers, stop_event_on_sigterm, vocab_warmup

LIMITS = Limits(max_text_length=100_000, supported_langs=frozenset({"en"}))


def work(args: argparse.Namespace) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    stop = stop_event_on_sigterm()
    nlp = load_pipeline(args.model)
    warmup = vocab_warmup()
    consumer = KafkaConsumer(
        args.input,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=args.batch_size,
    )
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks=1, linger_ms=2)
    try:
        while not stop.is_set():
            records = [r for rs in consumer.poll(timeout_ms=200).values() for r in rs]
            if not records:
                continue
            parsed = [parse_message(r.value, LIMITS) for r in records]
            messages = [p for p in parsed if isinstance(p, Message)]
            texts = [m.text for m in messages]
            annotated = extract_entities(nlp, texts, args.batch_size, keep_vocab=warmup.take(texts))
            for m, entities in zip(messages, annotated, strict=True):
                if not isinstance(entities, InferenceError):
                    producer.send(args.output, key=m.uuid.encode(), value=result_value(m.uuid, m.lang, entities))
            producer.flush()
            consumer.commit()
    finally:
        consumer.close()
        producer.close()


def main() -> None:
    run_workers(work, arguments(__doc__).parse_args())


if __name__ == "__main__":
    from bench.contenders.consumer import main as _main  # importable by reference in the spawned workers

    _main()
