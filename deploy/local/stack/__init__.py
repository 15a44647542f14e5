"""The toolbox for the local stack: the broker, the monitoring stack, the job and a Spark cluster as processes
recorded by pid, their readiness, and the Kafka client calls (topics, produce, consume, offsets).

One home for what the Makefile targets (through `python -m deploy.local.stack`), the tests and the bench do.
It needs only the runtime requirements (kafka-python) and the standard library, so `make demo` can use it.
"""
