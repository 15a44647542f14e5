"""Driver-side plumbing: settings, logging, the Spark session, side workers."""
