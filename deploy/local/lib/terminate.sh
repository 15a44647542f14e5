# Sourced by the local process scripts (kafka, monitoring, cluster, app): the one way they stop a process.
# terminate PID SECONDS LABEL: SIGTERM, wait up to SECONDS for it to exit, then SIGKILL. Only ever a pid the
# caller recorded itself; never a process found by name.
terminate() {
    local pid="$1" seconds="$2" label="$3" ticks=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && (( ticks < seconds * 5 )); do
        sleep 0.2
        ticks=$((ticks + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        printf '>> %s (pid %s) still alive after %ss: SIGKILL\n' "$label" "$pid" "$seconds" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
}
