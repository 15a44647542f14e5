#!/usr/bin/env bash
# Run the streaming job in the background for local development: start | stop | status | logs.
# The pid is recorded in $APP_STATE_DIR/app.pid; stop sends SIGTERM (the job's one stop path: stop the
# query, final offset commit, final metrics push) and waits, then SIGKILL after APP_STOP_TIMEOUT seconds.
set -euo pipefail
# shellcheck source=deploy/local/lib/terminate.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/terminate.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
state="${APP_STATE_DIR:-$repo/.local/app}"
python="${APP_PYTHON:-$repo/.venv/bin/python}"
pidfile="$state/app.pid"
logfile="$state/app.log"
stop_timeout="${APP_STOP_TIMEOUT:-60}"
start_timeout="${APP_START_TIMEOUT:-600}"

log() { printf '>> app: %s\n' "$*" >&2; }
alive() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
    if alive; then log "already running (pid $(cat "$pidfile"))"; return 0; fi
    mkdir -p "$state"
    cd "$repo"
    # With the local monitoring stack up (make monitor), push metrics to its Pushgateway unless told otherwise.
    if [[ -z "${PUSHGATEWAY_URL:-}" ]] && bash deploy/local/monitoring/monitoring.sh status >/dev/null 2>&1; then
        export PUSHGATEWAY_URL="http://127.0.0.1:${PUSHGATEWAY_PORT:-9091}"
        log "monitoring stack is up: pushing metrics to $PUSHGATEWAY_URL"
    fi
    nohup "$python" -m app.run >"$logfile" 2>&1 &
    echo $! >"$pidfile"
    log "started (pid $!), logs: $logfile; waiting for the query to run (first start resolves the Kafka connector)"
    local waited=0
    until grep -q "query .* running" "$logfile" 2>/dev/null; do
        if ! alive; then log "the job exited during start-up:"; tail -n 30 "$logfile" >&2; rm -f "$pidfile"; exit 1; fi
        (( waited >= start_timeout )) && { log "not running after ${start_timeout}s"; tail -n 30 "$logfile" >&2; exit 1; }
        sleep 1; waited=$((waited + 1))
        (( waited % 15 == 0 )) && log "still starting (${waited}s): $(tail -n 1 "$logfile" | cut -c1-120)"
    done
    log "running after ${waited}s"
}

stop() {
    if ! alive; then log "not running"; rm -f "$pidfile"; return 0; fi
    local pid; pid="$(cat "$pidfile")"
    terminate "$pid" "$stop_timeout" app
    rm -f "$pidfile"
    log "stopped (pid $pid)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if alive; then echo "running (pid $(cat "$pidfile"))"; else echo "not running"; exit 1; fi ;;
    logs) tail -n "${2:-50}" "$logfile" ;;
    *) echo "usage: $0 {start|stop|status|logs [N]}" >&2; exit 2 ;;
esac
