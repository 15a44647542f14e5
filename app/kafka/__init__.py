"""Kafka as the job sees it: client options for Spark and kafka-python, and the start-up checks on the broker."""
