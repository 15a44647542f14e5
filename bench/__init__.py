"""Benchmarks: this service against the hardware ceiling and the alternatives (`make bench`, docs/benchmarks.md)."""
