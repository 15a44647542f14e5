"""The records this service reads and writes, as named Spark schemas (data only, no logic)."""

from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# What producers send on the input topic (JSON).
INPUT_SCHEMA = StructType(
    [
        StructField("uuid", StringType(), nullable=False),
        StructField("text", StringType(), nullable=False),
        StructField("lang", StringType(), nullable=False),
    ]
)

ENTITY_SCHEMA = StructType(
    [
        StructField("text", StringType(), nullable=False),
        StructField("label", StringType(), nullable=False),
        StructField("start_char", IntegerType(), nullable=False),
        StructField("end_char", IntegerType(), nullable=False),
    ]
)

MODEL_SCHEMA = StructType(
    [
        StructField("name", StringType(), nullable=False),
        StructField("version", StringType(), nullable=False),
    ]
)

# Where a record came from: enough to find the original message again.
SOURCE_SCHEMA = StructType(
    [
        StructField("topic", StringType(), nullable=False),
        StructField("partition", IntegerType(), nullable=False),
        StructField("offset", LongType(), nullable=False),
    ]
)

# What the NER pandas UDF returns for every input row: either a result (reason is null) or a rejection.
INFERENCE_SCHEMA = StructType(
    [
        StructField("uuid", StringType()),
        StructField("lang", StringType()),
        StructField("entities", ArrayType(ENTITY_SCHEMA)),
        StructField("reason", StringType()),
        StructField("detail", StringType()),
        StructField("model_name", StringType()),
        StructField("model_version", StringType()),
        StructField("processed_at_ms", LongType()),
        # Set on the first row of an Arrow batch only (null elsewhere), for metrics.
        StructField("batch_inference_seconds", DoubleType()),
        StructField("model_load_seconds", DoubleType()),
    ]
)

# The JSON value written to the result topic, keyed by uuid.
RESULT_SCHEMA = StructType(
    [
        StructField("uuid", StringType(), nullable=False),
        StructField("lang", StringType(), nullable=False),
        StructField("entities", ArrayType(ENTITY_SCHEMA), nullable=False),
        StructField("model", MODEL_SCHEMA, nullable=False),
        StructField("source", SOURCE_SCHEMA, nullable=False),
        StructField("received_at", TimestampType(), nullable=False),
        StructField("processed_at", TimestampType(), nullable=False),
    ]
)

# The JSON value written to the dead-letter topic, keyed by the original message's key.
DEAD_LETTER_SCHEMA = StructType(
    [
        StructField("reason", StringType(), nullable=False),
        StructField("detail", StringType(), nullable=False),
        StructField("value_base64", StringType()),
        StructField("source", SOURCE_SCHEMA, nullable=False),
        StructField("received_at", TimestampType(), nullable=False),
        StructField("failed_at", TimestampType(), nullable=False),
    ]
)
