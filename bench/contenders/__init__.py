"""The contenders, each a long-running process reading an input topic and writing a result topic keyed by uuid."""
