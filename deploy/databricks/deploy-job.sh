#!/usr/bin/env bash
# Deploy the NER streaming job to Databricks: create or reset it, restart it, wait until its run is RUNNING.
# The front door only: the work (auth, retries, paging, waiting) is deploy_job.py on databricks-sdk.
#   deploy-job.sh [--dry-run]    deploy-job.sh --help lists every environment variable.
# PYTHON: the interpreter that has deploy/databricks/requirements.txt (default: python3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m deploy.databricks.deploy_job "$@"
