#!/usr/bin/env bash
# The local Kafka broker, a thin entry point to the toolbox (deploy/local/stack/broker.py holds the logic).
# Usage: kafka.sh {jars|start|stop|status|list-topics|create-topics [--partitions N] TOPIC...|delete-topics TOPIC...}
# Settings come from the environment (KAFKA_STATE_DIR, KAFKA_PORT, ...: Broker.from_env). STACK_PYTHON is the
# interpreter with the runtime requirements [<repo>/.venv/bin/python, made by `make venv`].
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
python="${STACK_PYTHON:-$repo/.venv/bin/python}"
[[ -x $python ]] || { echo "kafka.sh: error: $python not found: run make venv" >&2; exit 1; }
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m deploy.local.stack kafka "$@"
