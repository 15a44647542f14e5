"""The records this service reads and writes, as named Spark schemas (data only, no logic)."""

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
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

# A Kafka record's headers, as Spark's Kafka source reads them (includeHeaders) and its sink writes them.
HEADERS_SCHEMA = ArrayType(StructType([StructField("key", StringType()), StructField("value", BinaryType())]))

# What the annotator (app/udfs.py) returns for every input row: the finished Kafka record, routed by `ok`, and
# what the batch metrics need (app/spark/transform.py).
ANNOTATED_SCHEMA = StructType(
    [
        StructField("ok", BooleanType()),  # a result (true) or a dead letter (false)
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),  # a result: JSON of RESULT_SCHEMA; a dead letter: the original value
        StructField("headers", HEADERS_SCHEMA),  # a result: PASSTHROUGH_HEADERS; a dead letter: see below
        StructField("reason", StringType()),  # the dead letter's reason; null for a result
        # JSON counts and timings per language of the whole Arrow batch, on its first row only (null elsewhere),
        # for the metrics (app/workers/metrics.py).
        StructField("stats", StringType()),
    ]
)

# The JSON value written to the result topic, keyed by RESULT_KEY, with the input's PASSTHROUGH_HEADERS.
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
        # PASSTHROUGH_FIELDS the message has, by name: a string as it is, any other JSON value as its JSON text.
        StructField("passthrough", MapType(StringType(), StringType())),
    ]
)

# A dead letter is the original Kafka record byte for byte (key, value, headers, as Kafka Connect's and Kafka
# Streams' dead-letter queues keep it), with the error context appended as headers (UTF-8 text; numbers in decimal).
# Replay is plain re-production after removing these headers (app/kafka/replay.py). Context headers an input
# record already carries (a dead letter produced back by hand) are replaced, never repeated.
DEAD_LETTER_HEADER_PREFIX = "__ner.errors."
DEAD_LETTER_HEADERS = {
    "reason": "the machine-readable reason (app.contract.Reason)",
    "detail": "what was wrong, for a person (at most 500 characters)",
    "topic": "the source record's topic",
    "partition": "its partition",
    "offset": "its offset",
    "timestamp": "its Kafka timestamp, milliseconds since the epoch (absent when unreadable)",
    "failed_at": "when the service rejected it, milliseconds since the epoch",
    "version": "the service's version",
    # Only when the original did not fit one record even in a dead-letter topic that takes the input topic's
    # records: what was left out, in this order (value, headers, key); the original stays at its source offset.
    "dropped": "comma list of the parts left out: value, headers, key",
}
# Set by the replay tool on what it re-sends: how many times this message was replayed (it refuses past a limit,
# so a message that fails again is not looped forever). Kept by the service like any other input header.
REPLAY_COUNT_HEADER = "__ner.replay.count"

# The batch job's dead-letter files (no Kafka headers there): the same context as columns, and the original bytes.
DEAD_LETTER_FILE_SCHEMA = StructType(
    [
        StructField("reason", StringType()),
        StructField("detail", StringType()),
        StructField("source", SOURCE_SCHEMA),
        StructField("failed_at", TimestampType()),
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
    ]
)
