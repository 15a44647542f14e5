"""The model side of NER: loading, the per-worker cache, language detection, the killable inference process
and the calls to spaCy. Knows nothing of Spark or Kafka."""
