#!/usr/bin/env bash
# A Spark standalone cluster on this machine, from the pip-installed pyspark distribution: one master and
# SPARK_WORKERS workers, each its own background JVM with a recorded pid. Usage: cluster.sh {start|stop|status}
#
# Environment (defaults in brackets):
#   CLUSTER_STATE_DIR        pid files, logs and the workers' work dirs [<repo>/.local/cluster]
#   CLUSTER_PYTHON           the interpreter whose pyspark provides spark-class [<repo>/.venv/bin/python]
#   SPARK_MASTER_HOST        bind and advertised host of every daemon [127.0.0.1]
#   SPARK_MASTER_PORT        the master's RPC port, what spark://host:port names [7077]
#   SPARK_MASTER_WEBUI_PORT  the master's web UI and JSON API (/json/) [8080]
#   SPARK_WORKERS            how many workers [2]
#   SPARK_WORKER_WEBUI_PORT  the first worker's web UI; the others take the next ports [8081]
#   SPARK_WORKER_CORES       cores each worker offers [1]
#   SPARK_WORKER_MEMORY      memory each worker offers to executors [2g]
#   SPARK_DAEMON_MEMORY      heap of the master and worker JVMs themselves [256m]
#   CLUSTER_START_TIMEOUT    seconds to wait for every worker to register [90]
set -euo pipefail
# shellcheck source=deploy/local/lib/terminate.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/terminate.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$repo/$1" ;; esac; }

state="$(abs "${CLUSTER_STATE_DIR:-.local/cluster}")"
python="$(abs "${CLUSTER_PYTHON:-.venv/bin/python}")"
host="${SPARK_MASTER_HOST:-127.0.0.1}"
port="${SPARK_MASTER_PORT:-7077}"
ui_port="${SPARK_MASTER_WEBUI_PORT:-8080}"
workers="${SPARK_WORKERS:-2}"
worker_ui_port="${SPARK_WORKER_WEBUI_PORT:-8081}"
cores="${SPARK_WORKER_CORES:-1}"
memory="${SPARK_WORKER_MEMORY:-2g}"
start_timeout="${CLUSTER_START_TIMEOUT:-90}"
master_url="spark://$host:$port"

log() { printf '>> cluster: %s\n' "$*" >&2; }
die() { printf 'cluster.sh: error: %s\n' "$*" >&2; exit 1; }

# A recorded pid counts only while it is still a Spark daemon of that kind (a pid may be reused after a reboot).
running_pid() {
    local name="$1" class="$2" pidfile="$state/$1.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$class"; then
        printf '%s\n' "$pid"
    else
        return 1
    fi
}

# The master's JSON API: how many workers are ALIVE.
alive_workers() {
    "$python" - "$host" "$ui_port" <<'EOF' 2>/dev/null || echo 0
import json, sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/json/", timeout=3) as r:
    print(sum(w["state"] == "ALIVE" for w in json.load(r)["workers"]))
EOF
}

# spark-class from the installed pyspark; SPARK_HOME is that package directory (it holds jars/ and bin/).
spark_home() {
    "$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null \
        || die "no pyspark in $python: run make venv"
}

launch() {
    local name="$1" class="$2"; shift 2
    local logfile="$state/logs/$name.log"
    # setsid: a Ctrl+C in the shell that started the cluster does not reach it. PYTHONPATH is cleared so
    # executors import the `app` package only from what the job ships (spark.submit.pyFiles), as on a real cluster.
    env -u PYTHONPATH SPARK_HOME="$SPARK_HOME" SPARK_LOCAL_IP="$host" SPARK_LOG_DIR="$state/logs" \
        SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-256m}" \
        setsid "$SPARK_HOME/bin/spark-class" "$class" "$@" >"$logfile" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$state/$name.pid"
    log "$name started (pid $!, log $logfile)"
}

start() {
    SPARK_HOME="$(spark_home)"
    mkdir -p "$state/logs"
    if ! running_pid master deploy.master.Master >/dev/null; then
        (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && die "$host:$port is in use by another process; set SPARK_MASTER_PORT"
        launch master org.apache.spark.deploy.master.Master --host "$host" --port "$port" --webui-port "$ui_port"
    fi
    for i in $(seq 1 "$workers"); do
        running_pid "worker-$i" deploy.worker.Worker >/dev/null && continue
        mkdir -p "$state/worker-dirs/worker-$i"
        launch "worker-$i" org.apache.spark.deploy.worker.Worker --host "$host" --cores "$cores" --memory "$memory" \
            --webui-port $((worker_ui_port + i - 1)) --work-dir "$state/worker-dirs/worker-$i" "$master_url"
    done
    local waited=0
    until (( $(alive_workers) >= workers )); do
        for name in master $(seq -f 'worker-%g' 1 "$workers"); do
            local class=deploy.worker.Worker; [[ $name == master ]] && class=deploy.master.Master
            running_pid "$name" "$class" >/dev/null || { tail -n 20 "$state/logs/$name.log" >&2; die "$name exited"; }
        done
        (( waited >= start_timeout )) && die "fewer than $workers workers registered after ${start_timeout}s"
        sleep 1; waited=$((waited + 1))
    done
    log "ready: $master_url with $workers workers x $cores core(s), $memory; UI http://$host:$ui_port"
}

stop_one() {
    local name="$1" class="$2" pid
    if pid="$(running_pid "$name" "$class")"; then
        terminate "$pid" 20 "$name"
        log "$name stopped (pid $pid)"
    fi
    rm -f "$state/$name.pid"
}

stop() {
    # Workers first: they kill their executors on the way out; then the master.
    local pidfile
    for pidfile in "$state"/worker-*.pid; do
        [[ -e "$pidfile" ]] && stop_one "$(basename "$pidfile" .pid)" deploy.worker.Worker
    done
    stop_one master deploy.master.Master
}

status() {
    local pid
    if pid="$(running_pid master deploy.master.Master)"; then
        echo "master running (pid $pid) at $master_url, $(alive_workers) worker(s) alive; UI http://$host:$ui_port"
    else
        echo "not running"; return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
