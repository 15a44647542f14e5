"""The original GumGum-demo style Spark job, as the baseline to beat.

What makes it the demo and not the service: a row-at-a-time Python `udf` (one pickled row and one `nlp(text)` call
per message, no Arrow, no nlp.pipe batching), the full pipeline (tagger, parser, lemmatizer... nothing excluded),
and a foreachBatch sink that persists the batch, counts it, repartitions it and writes it to Kafka.
"""

import os
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType

from app.inference.models import NOT_NEEDED_FOR_NER, load_pipeline
from app.inference.ner import extract_entities
from app.schemas import ENTITY_SCHEMA, INPUT_SCHEMA
from app.spark.session import PROJECT_ROOT, kafka_package
from bench.contenders.common import MODEL, arguments

_NLP = {}


def entities(text: str | None) -> list[dict] | None:
    """Row at a time, full pipeline, loaded lazily once per Python worker."""
    if text is None:
        return None
    if "nlp" not in _NLP:
        _NLP["nlp"] = load_pipeline(MODEL, keep=NOT_NEEDED_FOR_NER)
    (found,) = extract_entities(_NLP["nlp"], [text])
    return [e.__dict__ for e in found] if isinstance(found, list) else None


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = str(PROJECT_ROOT)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local-mode workers inherit the environment
    spark = (
        SparkSession.builder.master(args.master)
        .appName("gumgum-demo")
        .config("spark.jars.packages", kafka_package())
        .config("spark.pyspark.python", sys.executable)
        .config("spark.executorEnv.PYTHONPATH", str(PROJECT_ROOT))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    ner = F.udf(entities, ArrayType(ENTITY_SCHEMA))
    messages = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", args.input)
        .option("startingOffsets", "earliest")
        .load()
        .select(F.from_json(F.col("value").cast("string"), INPUT_SCHEMA).alias("m"))
        .select("m.*")
    )
    results = messages.select(
        F.col("uuid").alias("key"),
        F.to_json(F.struct("uuid", "lang", ner(F.col("text")).alias("entities"))).alias("value"),
    )

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        count = batch.count()
        if count:
            (
                batch.repartition(spark.sparkContext.defaultParallelism)
                .write.format("kafka")
                .option("kafka.bootstrap.servers", args.bootstrap)
                .option("topic", args.output)
                .save()
            )
        batch.unpersist()

    query = (
        results.writeStream.foreachBatch(write_batch)
        .option("checkpointLocation", args.checkpoint)
        .trigger(processingTime="0 seconds")
        .start()
    )
    import signal

    signal.signal(signal.SIGTERM, lambda *_: query.stop())
    query.awaitTermination()
    spark.stop()


if __name__ == "__main__":
    from bench.contenders.demo_job import main as _main

    _main()
