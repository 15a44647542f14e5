#!/usr/bin/env bash
# The local monitoring stack without Docker: Burrow (consumer lag and status), the Pushgateway (the driver pushes
# metrics) and Prometheus (scrapes both, evaluates deploy/monitoring/alerts.yml), all on 127.0.0.1 in the background.
# Usage: monitoring.sh {start|stop|status|render}   (install the tools first: install.sh, or `make monitoring-tools`)
#
# Environment (defaults in brackets):
#   KAFKA_BOOTSTRAP_SERVERS       broker(s) Burrow reads, comma-separated [localhost:9092]
#   MONITORING_STATE_DIR          rendered configs, Prometheus data, logs, pid files [<repo>/.local/monitoring]
#   MONITORING_BIN_DIR            where install.sh put Burrow [<repo>/.local/bin]
#   BURROW_PORT                   Burrow HTTP API [8000]
#   PUSHGATEWAY_PORT              Pushgateway [9091]
#   PROMETHEUS_PORT               Prometheus [9090]
#   PROMETHEUS_SCRAPE_INTERVAL    scrape and rule evaluation interval [2s]
#   PROMETHEUS_RETENTION          TSDB retention [2d]
#   BURROW_KAFKA_VERSION          protocol version Burrow's client speaks [4.0.0]
#   BURROW_TOPIC_REFRESH          seconds between topic list refreshes; new topics show up after one [10]
#   BURROW_OFFSET_REFRESH         seconds between fetches of the partitions' end offsets [5]
#   BURROW_INTERVALS              committed offsets kept per partition for the status evaluation (its window) [10]
#   BURROW_EXPIRE_CACHE           seconds a group's evaluated status is cached [5]
#   BURROW_LOG_LEVEL              [info]
#   MONITORING_START_TIMEOUT      seconds to wait for each HTTP endpoint [30]
set -euo pipefail
# shellcheck source=deploy/local/lib/terminate.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/terminate.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$repo/$1" ;; esac; }

state="$(abs "${MONITORING_STATE_DIR:-.local/monitoring}")"
bin_dir="$(abs "${MONITORING_BIN_DIR:-.local/bin}")"
host=127.0.0.1
bootstrap="${KAFKA_BOOTSTRAP_SERVERS:-localhost:9092}"
burrow_port="${BURROW_PORT:-8000}"
pushgateway_port="${PUSHGATEWAY_PORT:-9091}"
prometheus_port="${PROMETHEUS_PORT:-9090}"
start_timeout="${MONITORING_START_TIMEOUT:-30}"
alerts_file="$repo/deploy/monitoring/alerts.yml"

log() { printf '>> monitoring: %s\n' "$*" >&2; }
die() { printf 'monitoring.sh: error: %s\n' "$*" >&2; exit 1; }

# --- configs ----------------------------------------------------------------------------------------------

render_burrow() {
    local servers out="$state/burrow/burrow.toml"
    # "a:9092,b:9092" -> "a:9092", "b:9092" (a TOML array's items)
    servers="\"${bootstrap//,/\", \"}\""
    mkdir -p "$state/burrow"
    sed -e "s|@STATE_DIR@|$state|g" -e "s|@KAFKA_SERVERS@|$servers|g" \
        -e "s|@KAFKA_VERSION@|${BURROW_KAFKA_VERSION:-4.0.0}|g" -e "s|@BURROW_PORT@|$burrow_port|g" \
        -e "s|@TOPIC_REFRESH@|${BURROW_TOPIC_REFRESH:-10}|g" -e "s|@OFFSET_REFRESH@|${BURROW_OFFSET_REFRESH:-5}|g" \
        -e "s|@INTERVALS@|${BURROW_INTERVALS:-10}|g" -e "s|@EXPIRE_CACHE@|${BURROW_EXPIRE_CACHE:-5}|g" \
        -e "s|@LOG_LEVEL@|${BURROW_LOG_LEVEL:-info}|g" \
        "$here/burrow.toml" >"$out"
    printf '%s\n' "$out"
}

render_prometheus() {
    local out="$state/prometheus/prometheus.yml"
    mkdir -p "$state/prometheus"
    sed -e "s|@SCRAPE_INTERVAL@|${PROMETHEUS_SCRAPE_INTERVAL:-2s}|g" -e "s|@ALERTS_FILE@|$alerts_file|g" \
        -e "s|@PUSHGATEWAY_ADDRESS@|$host:$pushgateway_port|g" -e "s|@PROMETHEUS_ADDRESS@|$host:$prometheus_port|g" \
        -e "s|@BURROW_ADDRESS@|$host:$burrow_port|g" \
        "$here/prometheus.yml" >"$out"
    printf '%s\n' "$out"
}

# Renders both configs and checks the Prometheus one (and the rules it loads) with promtool.
render() {
    render_burrow
    local config; config="$(render_prometheus)"
    local out
    out="$(promtool check config "$config" 2>&1)" || { printf '%s\n' "$out" >&2; die "promtool check config $config failed"; }
    printf '%s\n' "$config"
}

# --- processes --------------------------------------------------------------------------------------------

# name -> the command-line word that identifies its process (after a reboot a recorded pid may be another's).
signature() {
    case "$1" in
        burrow) printf '%s\n' "$bin_dir/Burrow" ;;
        pushgateway) printf '%s\n' prometheus-pushgateway ;;
        prometheus) printf '%s\n' "--config.file=$state/prometheus/prometheus.yml" ;;
    esac
}

ready_url() {
    case "$1" in
        burrow) printf 'http://%s:%s/burrow/admin\n' "$host" "$burrow_port" ;;
        pushgateway) printf 'http://%s:%s/-/ready\n' "$host" "$pushgateway_port" ;;
        prometheus) printf 'http://%s:%s/-/ready\n' "$host" "$prometheus_port" ;;
    esac
}

running_pid() {
    local pidfile="$state/$1.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(signature "$1")"; then
        printf '%s\n' "$pid"
    else
        return 1
    fi
}

# Burrow's HTTP server starts before its Kafka modules: it is ready once the cluster module has listed the topics.
is_ready() {
    case "$1" in
        burrow) curl -fsS --max-time 2 "http://$host:$burrow_port/v3/kafka/local/topic" 2>/dev/null | grep -q '"topics":\["' ;;
        *) curl -fsS --max-time 2 -o /dev/null "$(ready_url "$1")" 2>/dev/null ;;
    esac
}

# Burrow exits at start-up when __consumer_offsets does not exist yet, which is the case on a fresh broker until a
# group first looks up its coordinator. Do that lookup: a FindCoordinator request (v1) makes the broker create the
# topic; retry until it answers error_code 0. Plain bash (/dev/tcp) on a PLAINTEXT listener, like kafka.sh.
find_coordinator() {
    # shellcheck disable=SC2016  # the inner script gets host and port as $1 and $2
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        # size=19 | api_key=10 (FindCoordinator) version=1 correlation_id=9 client_id="" | key="burrow" key_type=0
        printf "\x00\x00\x00\x13\x00\x0a\x00\x01\x00\x00\x00\x09\x00\x00\x00\x06burrow\x00" >&3
        # Response: size, correlation_id, throttle_time_ms (int32s), then error_code (int16).
        read -r -a b < <(head -c 14 <&3 | od -An -v -tu1)
        (( ${#b[@]} == 14 && b[7] == 9 && b[12] == 0 && b[13] == 0 ))
    ' _ "$1" "$2" 2>/dev/null
}

ensure_offsets_topic() {
    local first="${bootstrap%%,*}" t0=$SECONDS
    local broker_host="${first%:*}" broker_port="${first##*:}"
    until find_coordinator "$broker_host" "$broker_port"; do
        if (( SECONDS - t0 >= start_timeout )); then
            log "warning: no group coordinator at $first after ${start_timeout}s; Burrow exits if __consumer_offsets is missing"
            return 0
        fi
        sleep 0.5
    done
}

# launch NAME COMMAND...: start in the background (own session, so a Ctrl+C in this shell does not reach it),
# record the pid, wait for its HTTP endpoint. Returns 0 if started or already running.
launch() {
    local name="$1" pid; shift
    if pid="$(running_pid "$name")"; then
        log "$name already running (pid $pid) at $(ready_url "$name")"
        return 0
    fi
    if is_ready "$name"; then
        die "$(ready_url "$name") already answers, but not from the $name of $state; set its port variable"
    fi
    local logfile="$state/logs/$name.log" t0=$SECONDS
    mkdir -p "$state/logs"
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$state/$name.pid"
    until is_ready "$name"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$logfile" >&2
            rm -f "$state/$name.pid"
            die "$name exited during start-up (log: $logfile)"
        fi
        if (( SECONDS - t0 >= start_timeout )); then
            tail -n 20 "$logfile" >&2
            stop_one "$name"
            die "$name did not answer $(ready_url "$name") within ${start_timeout}s (log: $logfile)"
        fi
        sleep 0.3
    done
    log "$name ready at $(ready_url "$name" | sed 's|/[^/]*/[^/]*$||') (pid $pid) after $(( SECONDS - t0 ))s"
}

stop_one() {
    local name="$1" pid
    if ! pid="$(running_pid "$name")"; then
        rm -f "$state/$name.pid"
        return 0
    fi
    terminate "$pid" 10 "$name"
    rm -f "$state/$name.pid"
    log "$name stopped (pid $pid)"
}

start() {
    command -v curl >/dev/null || die "curl is needed to wait for the endpoints: apt-get install curl"
    local tool
    for tool in prometheus promtool prometheus-pushgateway; do
        command -v "$tool" >/dev/null || die "$tool not found: run deploy/local/monitoring/install.sh (make monitoring-tools)"
    done
    [[ -x "$bin_dir/Burrow" ]] || die "$bin_dir/Burrow not found: run deploy/local/monitoring/install.sh (make monitoring-tools)"
    render >/dev/null
    local burrow_dir="$state/burrow" prometheus_config="$state/prometheus/prometheus.yml"
    # A failed start leaves nothing behind: the EXIT trap stops all three (already-running ones included).
    trap 'stop' EXIT
    launch pushgateway prometheus-pushgateway --web.listen-address="$host:$pushgateway_port"
    log "Burrow reads $bootstrap"
    ensure_offsets_topic
    launch burrow "$bin_dir/Burrow" --config-dir "$burrow_dir"
    mkdir -p "$state/prometheus/data"
    launch prometheus prometheus --config.file="$prometheus_config" --storage.tsdb.path="$state/prometheus/data" \
        --storage.tsdb.retention.time="${PROMETHEUS_RETENTION:-2d}" --web.listen-address="$host:$prometheus_port" \
        --web.enable-lifecycle
    # Burrow's consumer module starts just after its topic list appears; make sure it is still alive.
    sleep 1
    status >/dev/null || { status >&2; tail -n 20 "$state/logs/burrow.log" >&2; die "the stack did not stay up (logs: $state/logs)"; }
    trap - EXIT
}

stop() {
    local name
    for name in prometheus burrow pushgateway; do stop_one "$name"; done
}

status() {
    local name pid rc=0
    for name in pushgateway burrow prometheus; do
        if pid="$(running_pid "$name")"; then
            if is_ready "$name"; then echo "$name: running (pid $pid) at $(ready_url "$name")"
            else echo "$name: not answering (pid $pid) at $(ready_url "$name")"; rc=1; fi
        else
            echo "$name: not running ($state)"; rc=1
        fi
    done
    return "$rc"
}

usage() {
    sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

cmd="${1:-}"; shift || true
case "$cmd" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    render) render ;;
    *) usage ;;
esac
