"""The driver's side workers: the progress poller, the offsets committer, the metrics pusher."""
