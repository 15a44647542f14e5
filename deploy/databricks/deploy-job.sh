#!/usr/bin/env bash
# Create or update the NER streaming job on Databricks (Jobs API 2.2) from job.json, then (re)start it.
#
# Usage: deploy-job.sh [--dry-run]
#   --dry-run  print the rendered job settings (stdout) and the calls a deploy would make (stderr). It does
#              send the one read a plan needs (GET jobs/list, to tell "create" from "reset job N") and sends
#              no write (no POST).
#
# Required environment:
#   DATABRICKS_HOST, DATABRICKS_TOKEN   workspace URL and token (the token goes only into the Authorization
#                                       header, through a 0600 file; it is never printed, even under `bash -x`)
#   CLUSTER_NAME                        the job's name: one job per name, so it is also how we find the job
#   IMAGE_NAME                          image name, as for `make image` (with IMAGE_REGISTRY and IMAGE_TAG), or a
#                                       full reference
#   INSTANCE_TYPE, SPARK_VERSION        node type (workers, and driver unless DRIVER_INSTANCE_TYPE) and runtime
#   MIN_WORKERS, MAX_WORKERS            autoscale bounds; equal values give a fixed-size cluster
#   INIT_SCRIPTS_DESTINATION_S3         s3:// prefix holding init-script.sh (upload it there first; this
#                                       script only points the cluster at it)
#   LOG_DESTINATION_S3                  s3:// prefix for cluster logs
#   APP_ENV                             development|testing|staging|production (ENV_FOR_DYNACONF: deprecated)
# Optional environment (default):
#   IMAGE_REGISTRY (none: IMAGE_NAME holds it), IMAGE_TAG (none), DOCKER_USERNAME + DOCKER_PASSWORD (none: the instance profile pulls from ECR),
#   INSTANCE_PROFILE_ARN (none), AWS_REGION (none), DRIVER_INSTANCE_TYPE (INSTANCE_TYPE),
#   SPOT_AVAILABILITY (SPOT_WITH_FALLBACK), SPOT_FIRST_ON_DEMAND (1: the driver is on-demand),
#   SPOT_BID_PRICE_PERCENT (100), SPARK_UI_PROMETHEUS_ENABLED (true),
#   SPARK_AGGRESSIVE_WINDOW_DOWN_S (600: scale down slowly, a removed executor reloads the spaCy model),
#   SPARK_AGGRESSIVE_FIRST_STEP_SCALE_UP_FRACTION, SPARK_AGGRESSIVE_FIRST_STEP_SCALE_UP_MAX (unset: Databricks'),
#   SPARK_ENV_PASSTHROUGH ("KAFKA_BOOTSTRAP_SERVERS PUSHGATEWAY_URL"): names of variables copied, when set, into
#     spark_env_vars (pass secrets as {{secrets/scope/key}} references, never as values),
#   DATABRICKS_JOB_TEMPLATE (job.json beside this script), DATABRICKS_API_RETRIES (5),
#   DATABRICKS_API_BACKOFF_SECONDS (2, doubled per retry), DATABRICKS_API_MAX_BACKOFF_SECONDS (60, also caps
#   Retry-After), DATABRICKS_API_TIMEOUT_SECONDS (60 per request).
#
# Why a continuous job and not the GumGum demo's "unlimited retries + max_concurrent_runs=1": Databricks now
# recommends continuous mode for always-on Structured Streaming jobs and says it replaces that recipe ("Run jobs
# continuously"; "Production considerations for Structured Streaming"). The scheduler keeps exactly one run
# alive and restarts a failed run with exponential backoff, without a retry count to exhaust.
#
# Why run-now and no manual cancel after a reset of a continuous job: run-now on an unpaused continuous job
# cancels the active run and starts one with the new settings, and it also resumes a job waiting in backoff.
# Cancelling by hand races with the scheduler's own restart (databricks/cli#1849). A 409 from run-now means the
# scheduler has just triggered a run itself (terraform-provider-databricks#3585); that run already uses the new
# settings, so it counts as success. For a non-continuous template we cancel the active runs, then run-now.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly TEMPLATE=${DATABRICKS_JOB_TEMPLATE:-$SCRIPT_DIR/job.json}
readonly RETRIES=${DATABRICKS_API_RETRIES:-5}
readonly BACKOFF=${DATABRICKS_API_BACKOFF_SECONDS:-2}
readonly MAX_BACKOFF=${DATABRICKS_API_MAX_BACKOFF_SECONDS:-60}
readonly TIMEOUT=${DATABRICKS_API_TIMEOUT_SECONDS:-60}
readonly APP_ENVS="development testing staging production"
DRY_RUN=false

log() { printf 'deploy-job: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# --- settings --------------------------------------------------------------------------------------------

check_env() {
  local missing=() name
  # ${!name:+x}: test presence without expanding the value, so `bash -x` never shows the token.
  for name in DATABRICKS_HOST DATABRICKS_TOKEN CLUSTER_NAME IMAGE_NAME INSTANCE_TYPE SPARK_VERSION \
    MIN_WORKERS MAX_WORKERS INIT_SCRIPTS_DESTINATION_S3 LOG_DESTINATION_S3; do
    [[ -n ${!name:+x} ]] || missing+=("$name")
  done
  if [[ -n ${ENV_FOR_DYNACONF:-} ]]; then
    if [[ -z ${APP_ENV:-} ]]; then
      log "WARNING: ENV_FOR_DYNACONF is deprecated, set APP_ENV instead"
      APP_ENV=$ENV_FOR_DYNACONF
    elif [[ $APP_ENV != "$ENV_FOR_DYNACONF" ]]; then
      die "APP_ENV=$APP_ENV and the deprecated ENV_FOR_DYNACONF=$ENV_FOR_DYNACONF disagree; unset ENV_FOR_DYNACONF"
    fi
  fi
  [[ -n ${APP_ENV:-} ]] || missing+=(APP_ENV)
  ((${#missing[@]} == 0)) || die "missing required environment variable(s): ${missing[*]}"

  [[ " $APP_ENVS " == *" $APP_ENV "* ]] || die "APP_ENV=$APP_ENV: expected one of: $APP_ENVS"
  is_uint "$MIN_WORKERS" || die "MIN_WORKERS=$MIN_WORKERS: expected a whole number"
  is_uint "$MAX_WORKERS" || die "MAX_WORKERS=$MAX_WORKERS: expected a whole number"
  ((MIN_WORKERS <= MAX_WORKERS)) || die "MIN_WORKERS=$MIN_WORKERS is above MAX_WORKERS=$MAX_WORKERS"
  local var
  for var in INIT_SCRIPTS_DESTINATION_S3 LOG_DESTINATION_S3; do
    [[ ${!var} == s3://?* ]] || die "$var=${!var}: expected an s3:// URI"
  done
  for var in SPOT_FIRST_ON_DEMAND SPOT_BID_PRICE_PERCENT DATABRICKS_API_RETRIES DATABRICKS_API_BACKOFF_SECONDS \
    DATABRICKS_API_MAX_BACKOFF_SECONDS DATABRICKS_API_TIMEOUT_SECONDS; do
    [[ -z ${!var:-} ]] || is_uint "${!var}" || die "$var=${!var}: expected a whole number"
  done
  case ${SPOT_AVAILABILITY:-SPOT_WITH_FALLBACK} in
    SPOT | ON_DEMAND | SPOT_WITH_FALLBACK) ;;
    *) die "SPOT_AVAILABILITY=$SPOT_AVAILABILITY: expected SPOT, ON_DEMAND or SPOT_WITH_FALLBACK" ;;
  esac
  [[ -z ${DOCKER_USERNAME:-} && -z ${DOCKER_PASSWORD:+x} ]] || [[ -n ${DOCKER_USERNAME:-} && -n ${DOCKER_PASSWORD:+x} ]] ||
    die "set both DOCKER_USERNAME and DOCKER_PASSWORD, or neither"
  [[ -r $TEMPLATE ]] || die "job template not found: $TEMPLATE"

  API=${DATABRICKS_HOST%/}
  [[ $API == http://* || $API == https://* ]] || API=https://$API
  API=$API/api/2.2
}

# Key/value pairs -> JSON object of strings, skipping empty values (spark_conf and spark_env_vars take strings only).
string_map() {
  jq -n '[$ARGS.positional | _nwise(2) | select(.[1] != "") | {(.[0]): .[1]}] | add // {}' --args "$@"
}

render_settings() {
  local image=$IMAGE_NAME spark_conf spark_env name
  # The reference `make image-push` pushed: IMAGE_REGISTRY/IMAGE_NAME:IMAGE_TAG.
  [[ -z ${IMAGE_REGISTRY:-} ]] || image=${IMAGE_REGISTRY%/}/$image
  [[ -z ${IMAGE_TAG:-} ]] || image=$image:$IMAGE_TAG
  spark_conf=$(string_map \
    spark.ui.prometheus.enabled "${SPARK_UI_PROMETHEUS_ENABLED:-true}" \
    spark.databricks.aggressiveWindowDownS "${SPARK_AGGRESSIVE_WINDOW_DOWN_S:-600}" \
    spark.databricks.aggressiveFirstStepScaleUpFraction "${SPARK_AGGRESSIVE_FIRST_STEP_SCALE_UP_FRACTION:-}" \
    spark.databricks.aggressiveFirstStepScaleUpMax "${SPARK_AGGRESSIVE_FIRST_STEP_SCALE_UP_MAX:-}")
  local pairs=(APP_ENV "$APP_ENV")
  for name in ${SPARK_ENV_PASSTHROUGH-KAFKA_BOOTSTRAP_SERVERS PUSHGATEWAY_URL}; do
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "SPARK_ENV_PASSTHROUGH: '$name' is not a variable name"
    pairs+=("$name" "${!name:-}")
  done
  spark_env=$(string_map "${pairs[@]}")

  jq --arg name "$CLUSTER_NAME" --arg app_env "$APP_ENV" --arg image "$image" \
    --arg docker_user "${DOCKER_USERNAME:-}" \
    --arg spark_version "$SPARK_VERSION" --arg node_type "$INSTANCE_TYPE" \
    --arg driver_node_type "${DRIVER_INSTANCE_TYPE:-$INSTANCE_TYPE}" \
    --argjson min_workers "$MIN_WORKERS" --argjson max_workers "$MAX_WORKERS" \
    --arg availability "${SPOT_AVAILABILITY:-SPOT_WITH_FALLBACK}" \
    --argjson first_on_demand "${SPOT_FIRST_ON_DEMAND:-1}" --argjson bid "${SPOT_BID_PRICE_PERCENT:-100}" \
    --arg instance_profile "${INSTANCE_PROFILE_ARN:-}" --arg region "${AWS_REGION:-}" \
    --arg init_script "${INIT_SCRIPTS_DESTINATION_S3%/}/init-script.sh" --arg logs "${LOG_DESTINATION_S3%/}" \
    --argjson spark_conf "$spark_conf" --argjson spark_env "$spark_env" '
    def s3($dest): {destination: $dest} + (if $region == "" then {} else {region: $region} end);
    .name = $name
    | .tags += {env: $app_env}
    | .tasks[0].new_cluster |= (
        .spark_version = $spark_version
        | .node_type_id = $node_type
        | .driver_node_type_id = $driver_node_type
        | (if $min_workers == $max_workers then .num_workers = $min_workers
           else .autoscale = {min_workers: $min_workers, max_workers: $max_workers} end)
        | .docker_image.url = $image
        | (if $docker_user == "" then . else .docker_image.basic_auth = {username: $docker_user, password: env.DOCKER_PASSWORD} end)
        | .aws_attributes += {availability: $availability, first_on_demand: $first_on_demand, spot_bid_price_percent: $bid}
        | (if $instance_profile == "" then . else .aws_attributes.instance_profile_arn = $instance_profile end)
        | .init_scripts = [{s3: s3($init_script)}]
        | .cluster_log_conf = {s3: s3($logs)}
        | .spark_conf += $spark_conf
        | .spark_env_vars += $spark_env
        | .custom_tags += {env: $app_env, job: $name})' "$TEMPLATE"
}

# --- HTTP ------------------------------------------------------------------------------------------------

# Write the Authorization header to a 0600 file with tracing off; curl reads it with -H @file, so the token is
# in no argv (ps) and no trace line.
write_auth_header() {
  { local tracing=${-//[^x]/}; set +x; } 2>/dev/null
  (umask 077 && printf 'Authorization: Bearer %s\n' "$DATABRICKS_TOKEN" >"$WORK/auth")
  if [[ -n $tracing ]]; then set -x; fi
}

# api METHOD PATH [BODY_FILE] [retry-policy]: the response body goes to $WORK/body, the status to $HTTP_STATUS.
# Bodies travel in files, never in shell variables, so no secret in them (registry password) reaches a trace.
# Retries 429, 5xx and connection failures (retry-policy "all"), or only 429 ("429": for calls that are not
# idempotent, where a 5xx may have done the work). Returns 0 on 2xx and 409 (the caller decides), dies otherwise.
api() {
  local method=$1 path=$2 body=${3:-} policy=${4:-all} attempt=0 delay=$BACKOFF wait message args
  args=(--silent --show-error --max-time "$TIMEOUT" -X "$method" -H "@$WORK/auth" -H 'Accept: application/json'
    -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}')
  [[ -z $body ]] || args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  while :; do
    : >"$WORK/body"
    : >"$WORK/headers"
    HTTP_STATUS=$(curl "${args[@]}" "$API/$path" 2>"$WORK/curl-err") || HTTP_STATUS=000
    message=$(api_message)
    case $HTTP_STATUS in
      2?? | 409) return 0 ;;
      401 | 403) die "$method $path: HTTP $HTTP_STATUS: Databricks rejected the credentials; check that DATABRICKS_TOKEN is valid for $DATABRICKS_HOST and may manage jobs ($message)" ;;
      404) die "$method $path: HTTP 404: not found; check DATABRICKS_HOST=$DATABRICKS_HOST ($message)" ;;
      429 | 5?? | 000)
        if [[ $HTTP_STATUS != 429 && $policy == 429 ]]; then
          die "$method $path: HTTP $HTTP_STATUS: $message; not retried because the call may have succeeded: run the deploy again, it finds the job by name"
        fi
        if ((attempt >= RETRIES)); then
          die "$method $path: HTTP $HTTP_STATUS after $((attempt + 1)) attempt(s): $message"
        fi
        wait=$(retry_after)
        wait=${wait:-$delay}
        ((wait <= MAX_BACKOFF)) || wait=$MAX_BACKOFF
        log "$method $path: HTTP $HTTP_STATUS ($message); retry $((attempt + 1))/$RETRIES in ${wait}s"
        sleep "$wait"
        attempt=$((attempt + 1))
        delay=$((delay * 2))
        ;;
      *) die "$method $path: HTTP $HTTP_STATUS: $message" ;;
    esac
  done
}

# Databricks errors are {"error_code": ..., "message": ...}; fall back to the raw body, then to curl's error.
api_message() {
  local text
  text=$(jq -r 'if type == "object" and has("message") then "\(.error_code // "ERROR"): \(.message)" else empty end' \
    "$WORK/body" 2>/dev/null) || text=""
  [[ -n $text ]] || text=$(head -c 300 "$WORK/body" | tr -s '\r\n' ' ')
  [[ -n $text ]] || text=$(head -c 300 "$WORK/curl-err" | tr -s '\r\n' ' ')
  printf '%s' "${text:-no response body}"
}

# Retry-After in seconds, if the last response had one.
retry_after() {
  local value
  value=$(tr -d '\r' <"$WORK/headers" | awk -F': *' 'tolower($1) == "retry-after" {print $2}' | tail -n 1)
  if is_uint "${value:-x}"; then printf '%s' "$value"; fi
}

expect_ok() { # the context for a 409 that api() let through
  [[ $HTTP_STATUS != 409 ]] || die "$1: HTTP 409: $(api_message)"
}

# --- steps -----------------------------------------------------------------------------------------------

# IDs of the jobs named CLUSTER_NAME, one per line. The name filter is exact but case-insensitive, like the
# API; a second job differing only in case would be as confusing as an exact duplicate, so it counts too.
find_jobs() {
  local token="" query
  while :; do
    query="limit=100&name=$(jq -rn --arg v "$CLUSTER_NAME" '$v | @uri')"
    [[ -z $token ]] || query+="&page_token=$(jq -rn --arg v "$token" '$v | @uri')"
    api GET "jobs/list?$query"
    expect_ok "GET jobs/list"
    jq -r --arg name "$CLUSTER_NAME" \
      '.jobs[]? | select((.settings.name // "" | ascii_downcase) == ($name | ascii_downcase)) | .job_id' "$WORK/body"
    token=$(jq -r '.next_page_token // ""' "$WORK/body")
    [[ -n $token ]] || break
  done
}

active_run_ids() {
  local token="" query
  while :; do
    query="job_id=$1&active_only=true&limit=25"
    [[ -z $token ]] || query+="&page_token=$(jq -rn --arg v "$token" '$v | @uri')"
    api GET "jobs/runs/list?$query"
    expect_ok "GET jobs/runs/list"
    jq -r '.runs[]?.run_id' "$WORK/body"
    token=$(jq -r '.next_page_token // ""' "$WORK/body")
    [[ -n $token ]] || break
  done
}

# Start (or, for a continuous job, restart) the job. The idempotency token makes the retried call safe.
run_now() {
  local job_id=$1 continuous=$2 idempotency
  idempotency="deploy-$job_id-$(date +%s)-$$"
  jq -cn --argjson id "$job_id" --arg t "$idempotency" '{job_id: $id, idempotency_token: $t}' >"$WORK/request"
  api POST jobs/run-now "$WORK/request"
  if [[ $HTTP_STATUS == 409 && $continuous == true ]]; then
    log "run-now: HTTP 409 ($(api_message)): the scheduler has just started a run with the new settings"
    return
  fi
  expect_ok "POST jobs/run-now"
  log "started run $(jq -r .run_id "$WORK/body") of job $job_id"
}

# Redact the Docker registry password before printing settings.
redact() { jq '(.tasks[].new_cluster.docker_image.basic_auth.password | strings) |= "***"'; }

main() {
  case ${1:-} in
    "") ;;
    --dry-run) DRY_RUN=true ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (usage: deploy-job.sh [--dry-run])" ;;
  esac
  (($# <= 1)) || die "too many arguments (usage: deploy-job.sh [--dry-run])"
  command -v jq >/dev/null || die "jq is required"
  command -v curl >/dev/null || die "curl is required"
  check_env

  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  local settings continuous ids count job_id runs run_id
  settings=$WORK/settings.json
  render_settings >"$settings"
  continuous=$(jq -r '.continuous.pause_status == "UNPAUSED"' "$settings")
  write_auth_header

  ids=$(find_jobs)
  count=$(grep -c . <<<"$ids" || true)
  if ((count > 1)); then
    die "$count jobs are named '$CLUSTER_NAME' (ids: $(paste -sd, <<<"$ids")); delete the extra ones, nothing was changed"
  fi

  if $DRY_RUN; then
    redact <"$settings"
    if ((count == 0)); then
      log "dry run: would POST jobs/create (name '$CLUSTER_NAME'), then POST jobs/run-now"
    elif [[ $continuous == true ]]; then
      log "dry run: would POST jobs/reset (job_id $ids), then POST jobs/run-now (restarts the continuous run)"
    else
      log "dry run: would POST jobs/reset (job_id $ids), cancel its active runs (GET jobs/runs/list, POST jobs/runs/cancel), then POST jobs/run-now"
    fi
    return
  fi

  if ((count == 0)); then
    api POST jobs/create "$settings" 429
    expect_ok "POST jobs/create"
    job_id=$(jq -r .job_id "$WORK/body")
    log "created job $job_id '$CLUSTER_NAME'"
  else
    job_id=$ids
    jq -c --argjson id "$job_id" '{job_id: $id, new_settings: .}' "$settings" >"$WORK/request"
    api POST jobs/reset "$WORK/request"
    expect_ok "POST jobs/reset"
    log "reset job $job_id '$CLUSTER_NAME'"
    if [[ $continuous != true ]]; then
      runs=$(active_run_ids "$job_id") # not inline in `for`: set -e ignores a failed substitution there
      for run_id in $runs; do
        jq -cn --argjson id "$run_id" '{run_id: $id}' >"$WORK/request"
        api POST jobs/runs/cancel "$WORK/request"
        expect_ok "POST jobs/runs/cancel"
        log "cancelled run $run_id"
      done
    fi
  fi
  run_now "$job_id" "$continuous"
}

main "$@"
