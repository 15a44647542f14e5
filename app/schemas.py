"""The records this service reads and writes, as named Spark schemas (data only, no logic)."""

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# What producers send on the input topic (JSON). All three fields are required (validated in app.messages);
# the Spark types stay nullable so that casts into them never fail on nullability.
INPUT_SCHEMA = StructType(
    [
        StructField("uuid", StringType()),
        StructField("text", StringType()),
        StructField("lang", StringType()),
    ]
)

ENTITY_SCHEMA = StructType(
    [
        StructField("text", StringType()),
        StructField("label", StringType()),  # the model's own label (PERSON, GPE, PER, LOC, ...)
        StructField("type", StringType()),  # PERSON, ORGANIZATION, LOCATION or OTHER (app/entity_types.py)
        StructField("start_char", IntegerType()),
        StructField("end_char", IntegerType()),
    ]
)

MODEL_SCHEMA = StructType(
    [
        StructField("name", StringType()),
        StructField("version", StringType()),
        StructField("types", StringType()),  # the version of the label -> type mapping
    ]
)

# How the language was found when the message left it to the service (lang omitted or "auto"); null otherwise.
LANG_DETECTION_SCHEMA = StructType(
    [
        StructField("language", StringType()),
        StructField("confidence", DoubleType()),
    ]
)

# Where a record came from: enough to find the original message again.
SOURCE_SCHEMA = StructType(
    [
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("offset", LongType()),
    ]
)

# What the annotator (app/udfs.py) returns for every input row: the finished Kafka record, routed by `ok`, and
# what the batch metrics need (app/spark/transform.py).
ANNOTATED_SCHEMA = StructType(
    [
        StructField("ok", BooleanType()),  # a result (true) or a dead letter (false)
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),  # JSON: RESULT_SCHEMA or DEAD_LETTER_SCHEMA
        StructField("reason", StringType()),  # the dead letter's reason; null for a result
        # JSON counts and timings per language of the whole Arrow batch, on its first row only (null elsewhere),
        # for the metrics (app/workers/metrics.py).
        StructField("stats", StringType()),
    ]
)

# The JSON value written to the result topic, keyed by uuid.
RESULT_SCHEMA = StructType(
    [
        StructField("uuid", StringType()),
        StructField("lang", StringType()),  # the language whose model ran: as given, or as detected
        StructField("lang_detection", LANG_DETECTION_SCHEMA),
        StructField("entities", ArrayType(ENTITY_SCHEMA)),
        StructField("model", MODEL_SCHEMA),
        StructField("source", SOURCE_SCHEMA),
        StructField("received_at", TimestampType()),
        StructField("processed_at", TimestampType()),
    ]
)

# The JSON value written to the dead-letter topic, keyed by the original message's key.
DEAD_LETTER_SCHEMA = StructType(
    [
        StructField("reason", StringType()),
        StructField("detail", StringType()),
        StructField("key_bytes", IntegerType()),  # the whole key's size (the dead letter's key is cut to fit)
        StructField("value_base64", StringType()),  # the value's first bytes, as many as fit in one record
        StructField("value_bytes", IntegerType()),  # the whole value's size
        StructField("source", SOURCE_SCHEMA),
        StructField("received_at", TimestampType()),
        StructField("failed_at", TimestampType()),
    ]
)
