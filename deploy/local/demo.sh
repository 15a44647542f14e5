#!/usr/bin/env bash
# `make demo`: start what is not running (broker, job), send deploy/local/input.json, print the results as
# they arrive, then stop what this script started. Needs `make venv kafka-jars` first (the Makefile does it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
python="${APP_PYTHON:-.venv/bin/python}"
bootstrap="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
input="${DEMO_INPUT:-deploy/local/input.json}"
tool=(deploy/local/kafka_tool.py --bootstrap "$bootstrap")
started=()

cleanup() {
    local code=$?
    for (( i=${#started[@]}-1; i>=0; i-- )); do
        case "${started[$i]}" in
            app) bash deploy/local/app/app.sh stop || true ;;
            kafka) bash deploy/local/kafka/kafka.sh stop || true ;;
        esac
    done
    exit "$code"
}
trap cleanup EXIT INT TERM

if ! bash deploy/local/kafka/kafka.sh status >/dev/null 2>&1; then
    bash deploy/local/kafka/kafka.sh start
    started+=(kafka)
fi
bash deploy/local/kafka/kafka.sh create-topics --partitions "${PARTITIONS:-2}" \
    "${INPUT_TOPIC:-input}" "${RESULT_TOPIC:-result}" "${DEAD_LETTER_TOPIC:-dead-letter}" >/dev/null
from=$("$python" "${tool[@]}" end-offsets --topic "${RESULT_TOPIC:-result}")
if ! bash deploy/local/app/app.sh status >/dev/null 2>&1; then
    KAFKA_BOOTSTRAP_SERVERS="$bootstrap" bash deploy/local/app/app.sh start
    started+=(app)
fi
expected=$(grep -c . "$input")
"$python" "${tool[@]}" produce --topic "${INPUT_TOPIC:-input}" "$input"
echo ">> demo: results from topic ${RESULT_TOPIC:-result} (waiting for $expected):"
"$python" "${tool[@]}" consume --topic "${RESULT_TOPIC:-result}" --start-offsets "$from" \
    --count "$expected" --timeout "${DEMO_TIMEOUT:-300}"
# Stop only once the job has finished (and committed) the batch: stopping mid-batch is safe (the checkpoint
# re-runs it) but would send these results again on the next start.
"$python" "${tool[@]}" wait-committed --topic "${INPUT_TOPIC:-input}" --group "${KAFKA_CONSUMER_GROUP:-ner-service}" \
    --timeout 60 || echo ">> demo: the job has not committed its last batch yet; it will re-run it on its next start"
echo ">> demo: done; stopping what the demo started"
