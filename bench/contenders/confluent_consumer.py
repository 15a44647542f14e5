"""Plain confluent-kafka (librdkafka) microservice: consumer -> nlp.pipe -> producer, one process per core, one
consumer group; the kafka-python consumer's step and layout on the other Python client.

At-least-once: a batch's offsets are committed only after its results are flushed to the broker.

A batch is what the kafka-python consumer's poll returns: up to --batch-size records, as soon as there is one. The
first record is waited for (`consume(1, timeout)`), the rest are taken from what librdkafka has already fetched
(`consume(n - 1, 0)`): a single `consume(n, timeout)` would hold a partial batch until the timeout at low input
rates, adding that timeout to the latency.
"""

import argparse
import logging

from app.contract import InferenceError, Limits, Message
from app.inference.models import load_pipeline
from app.inference.ner import extract_entities
from app.messages import parse_message
from bench.contenders.common import arguments, result_value, run_workers, stop_event_on_sigterm, vocab_warmup

LIMITS = Limits(max_text_length=100_000, supported_langs=frozenset({"en"}))
POLL_SECONDS = 0.2  # the kafka-python consumer's poll timeout
log = logging.getLogger("bench.confluent_consumer")


def work(args: argparse.Namespace) -> None:
    from confluent_kafka import Consumer, Producer

    stop = stop_event_on_sigterm()
    nlp = load_pipeline(args.model)
    warmup = vocab_warmup()
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([args.input])
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": 1, "linger.ms": 2})
    try:
        while not stop.is_set():
            first = consumer.consume(num_messages=1, timeout=POLL_SECONDS)
            if not first:
                continue
            fetched = first + (
                consumer.consume(num_messages=args.batch_size - 1, timeout=0) if args.batch_size > 1 else []
            )
            records = []
            for r in fetched:
                if r.error() is None:
                    records.append(r)
                else:  # partition EOF is off by default; anything else is worth a line in the contender's log
                    log.warning("consume error: %s", r.error())
            if not records:
                continue
            parsed = [parse_message(r.value(), LIMITS) for r in records]
            messages = [p for p in parsed if isinstance(p, Message)]
            texts = [m.text for m in messages]
            annotated = extract_entities(nlp, texts, args.batch_size, keep_vocab=warmup.take(texts))
            for m, entities in zip(messages, annotated, strict=True):
                if not isinstance(entities, InferenceError):
                    producer.produce(args.output, key=m.uuid.encode(), value=result_value(m.uuid, m.lang, entities))
            producer.flush()
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
        producer.flush(10)


def main() -> None:
    run_workers(work, arguments(__doc__).parse_args())


if __name__ == "__main__":
    from bench.contenders.confluent_consumer import main as _main  # importable by reference in the spawned workers

    _main()
