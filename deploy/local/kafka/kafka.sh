#!/usr/bin/env bash
# The local Kafka broker without Docker: official Apache Kafka jars from Maven Central, run as one KRaft
# broker+controller process in the background. Usage: kafka.sh {jars|start|stop|status|create-topics|delete-topics|list-topics}
#
# Environment (defaults in brackets):
#   KAFKA_STATE_DIR         data, logs, rendered config and pid file [<repo>/.local/kafka]
#   KAFKA_LIBS_DIR          the jars; shared by every state dir, so wiping one never re-resolves [<repo>/.local/kafka-libs]
#   KAFKA_HOST              listener and advertised host [127.0.0.1]
#   KAFKA_PORT              client (PLAINTEXT) port [9092]
#   KAFKA_CONTROLLER_PORT   KRaft controller port [9093]
#   KAFKA_EXTRA_PROPERTIES  optional properties file appended to the rendered config (extra listeners, SASL, TLS)
#   KAFKA_CLIENT_CONFIG     optional client properties file for the topic commands (--command-config)
#   KAFKA_HEAP_OPTS         broker JVM heap [-Xms128m -Xmx512m]
#   KAFKA_START_TIMEOUT     seconds to wait for the broker to serve requests [60]
set -euo pipefail
# shellcheck source=deploy/local/lib/terminate.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/terminate.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$repo/$1" ;; esac; }

state="$(abs "${KAFKA_STATE_DIR:-.local/kafka}")"
libs="$(abs "${KAFKA_LIBS_DIR:-.local/kafka-libs}")"
host="${KAFKA_HOST:-127.0.0.1}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
heap="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
start_timeout="${KAFKA_START_TIMEOUT:-60}"
bootstrap="$host:$port"
pidfile="$state/kafka.pid"
logfile="$state/logs/server.log"

log() { printf '>> kafka: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

# --- jars -------------------------------------------------------------------------------------------------

# The stamp holds the pom's checksum: the jars are re-resolved only when the pom changes.
jars() {
    local stamp="$libs/.pom.sha256" want
    want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven"
    log "resolving the Kafka jars into $libs (first run downloads ~45 MB from Maven Central)"
    rm -rf "$libs" && mkdir -p "$libs"
    local mvnlog="$libs/.mvn.log"
    # Maven's batch output prints one line per file; show a running count instead, and the whole log on failure.
    if ! mvn -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" 2>&1 \
        | tee "$mvnlog" \
        | awk '/Downloaded from/ { if (++n % 50 == 0) { printf "   ... %d files downloaded\n", n; fflush() } }'; then
        tail -n 40 "$mvnlog" >&2
        die "mvn dependency:copy-dependencies failed (full log: $mvnlog)"
    fi
    grep -q 'BUILD SUCCESS' "$mvnlog" || { tail -n 40 "$mvnlog" >&2; die "mvn did not succeed (full log: $mvnlog)"; }
    printf '%s\n' "$want" >"$stamp"
    log "$(find "$libs" -name '*.jar' | wc -l) jars ready"
}

# Kafka's CLI tools, from the same jars. Client-side JIT and a serial GC: these JVMs live for a second or two.
tool() {
    local main="$1"; shift
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=warn -cp "$libs/*" "$main" "$@"
}

# --- broker -----------------------------------------------------------------------------------------------

running_pid() {
    [[ -f "$pidfile" ]] || return 1
    local pid; pid="$(cat "$pidfile")"
    # Check the command line too: after a reboot the recorded pid may belong to something else.
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
        printf '%s\n' "$pid"
    else
        return 1
    fi
}

# True once the broker answers a Kafka Metadata request (v4) listing at least one broker. An open port is not
# enough: topics can only be created once the broker is unfenced, and a fenced broker is not listed.
# Plain bash (/dev/tcp), so the check costs no JVM and needs no Python.
broker_ready() {
    # shellcheck disable=SC2016  # expanded by the inner bash, from its arguments
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        # size=15 | api_key=3 (Metadata) version=4 correlation_id=7 client_id="" | topics=[] allow_auto_create=false
        printf "\x00\x00\x00\x0f\x00\x03\x00\x04\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00" >&3
        # Response: size, correlation_id, throttle_time_ms, then the broker count (all int32, big-endian).
        read -r -a b < <(head -c 16 <&3 | od -An -v -tu1)
        (( ${#b[@]} == 16 && b[7] == 7 && (b[12] | b[13] | b[14] | b[15]) > 0 ))
    ' _ "$host" "$port" 2>/dev/null
}

render_config() {
    local out="$state/server.properties"
    sed -e "s|@KAFKA_HOST@|$host|g" -e "s|@KAFKA_PORT@|$port|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$controller_port|g" -e "s|@KAFKA_DATA_DIR@|$state/data|g" \
        "$here/server.properties" >"$out"
    if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
        local extra; extra="$(abs "$KAFKA_EXTRA_PROPERTIES")"
        [[ -f "$extra" ]] || die "KAFKA_EXTRA_PROPERTIES=$KAFKA_EXTRA_PROPERTIES: no such file"
        printf '\n# --- appended from %s\n' "$extra" >>"$out"
        cat "$extra" >>"$out"
    fi
    printf '%s\n' "$out"
}

# The first errors say why (a port in use, a bad property); the tail says where it stopped.
show_failure() {
    {
        echo "---- first errors in $logfile:"
        grep -E '^\[[^]]*\] (ERROR|FATAL)|^Caused by|^[a-zA-Z.]+(Exception|Error):' "$logfile" 2>/dev/null | head -n 8 | cut -c1-400 || true
        echo "---- last lines of $logfile and stdout.log:"
        tail -n 15 "$logfile" 2>/dev/null | cut -c1-400 || true
        tail -n 10 "$state/logs/stdout.log" 2>/dev/null | cut -c1-400 || true
    } >&2
}

start() {
    local pid
    if pid="$(running_pid)"; then
        log "already running (pid $pid) at $bootstrap"
        return 0
    fi
    jars
    java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || die "Kafka 4 needs Java 17 or newer: $(java -version 2>&1 | head -1)"
    if broker_ready || (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        die "$bootstrap is already in use by another process (not the broker of $state); set KAFKA_PORT"
    fi
    mkdir -p "$state/data" "$state/logs"
    local config; config="$(render_config)"
    if [[ ! -f "$state/data/meta.properties" ]]; then
        # A cluster id is 16 random bytes in unpadded url-safe base64, what `kafka-storage random-uuid` prints.
        # A leading '-' would read as an option to the storage tool: draw again (as Kafka's own Uuid does).
        local cluster_id; cluster_id="-"
        while [[ $cluster_id == -* ]]; do
            cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        done
        log "formatting $state/data (cluster id $cluster_id)"
        tool kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$config" >"$state/logs/format.log" 2>&1 \
            || { cat "$state/logs/format.log" >&2; die "formatting the storage failed"; }
    fi
    log "starting the broker at $bootstrap (logs: $logfile)"
    local t0=$SECONDS
    # setsid: the broker gets its own session, so a Ctrl+C in the shell that started it does not reach it.
    # shellcheck disable=SC2086  # heap holds several options
    setsid java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.logs.dir="$state/logs" \
        -cp "$libs/*" kafka.Kafka "$config" >"$state/logs/stdout.log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
    until broker_ready; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_failure
            rm -f "$pidfile"
            die "the broker exited during start-up (see $state/logs)"
        fi
        if (( SECONDS - t0 >= start_timeout )); then
            show_failure
            stop
            die "the broker did not serve requests within ${start_timeout}s (see $state/logs)"
        fi
        sleep 0.5
    done
    log "ready at $bootstrap (pid $pid) after $(( SECONDS - t0 ))s"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$pidfile"
        log "not running ($state)"
        return 0
    fi
    log "stopping pid $pid"
    terminate "$pid" 30 kafka
    rm -f "$pidfile"
    log "stopped"
}

status() {
    local pid
    if pid="$(running_pid)"; then
        if broker_ready; then echo "running (pid $pid) at $bootstrap"; else echo "starting (pid $pid) at $bootstrap"; fi
    else
        echo "not running ($state)"
        return 1
    fi
}

# --- topics -----------------------------------------------------------------------------------------------

topic_cmd() {
    local args=(--bootstrap-server "$bootstrap")
    [[ -n "${KAFKA_CLIENT_CONFIG:-}" ]] && args+=(--command-config "$(abs "$KAFKA_CLIENT_CONFIG")")
    tool org.apache.kafka.tools.TopicCommand "${args[@]}" "$@"
}

create_topics() {
    local partitions=1
    if [[ "${1:-}" == "--partitions" ]]; then partitions="${2:?--partitions needs a number}"; shift 2; fi
    (( $# > 0 )) || die "usage: kafka.sh create-topics [--partitions N] TOPIC..."
    local t
    for t in "$@"; do
        topic_cmd --create --if-not-exists --topic "$t" --partitions "$partitions" --replication-factor 1
    done
}

delete_topics() {
    (( $# > 0 )) || die "usage: kafka.sh delete-topics TOPIC..."
    local t
    for t in "$@"; do
        topic_cmd --delete --if-exists --topic "$t"
    done
}

usage() {
    sed -n '2,3p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

cmd="${1:-}"; shift || true
case "$cmd" in
    jars) jars ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    create-topics) create_topics "$@" ;;
    delete-topics) delete_topics "$@" ;;
    list-topics) topic_cmd --list ;;
    *) usage ;;
esac
