"""Real-time named-entity recognition on Spark Structured Streaming, Kafka in and out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ner-streaming")  # the installed wheel's (the images install one)
except PackageNotFoundError:
    __version__ = "0+source"  # run from a checkout
