"""The driver's side workers: the offsets committer, the metrics pusher, the progress listener."""
