"""Plumbing: logging and the Spark session."""
