"""Everything that touches Spark: the session, the streaming query, the shared transform, the batch job, and
the quarantine and supervisor that isolate what fails a micro-batch."""
