"""Real-time named-entity recognition on Spark Structured Streaming, Kafka in and out."""
