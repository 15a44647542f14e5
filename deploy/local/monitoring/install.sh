#!/usr/bin/env bash
# Install the local monitoring tools without Docker: Prometheus + promtool and the Pushgateway from Debian,
# Burrow built from source with `go install`. Idempotent: each step is skipped when its tool is already there.
#
# Env: LOCAL (state dir, default .local; Burrow goes to $LOCAL/bin), BURROW_VERSION (module tag, default below).
set -euo pipefail

cd "$(dirname "$0")/../../.."
LOCAL=${LOCAL:-.local}
BIN_DIR="$(mkdir -p "$LOCAL/bin" && cd "$LOCAL/bin" && pwd)"
# Burrow >= 1.9.5 is the first that reads Kafka 4.x (Debian's 1.2.1 cannot). v1.9.6 is the newest tag the Go module
# proxy serves; bump it here.
BURROW_VERSION=${BURROW_VERSION:-v1.9.6}

log() { echo ">> monitoring-install: $*"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_debian_tools() {
    if command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v prometheus-pushgateway >/dev/null; then
        log "prometheus, promtool and prometheus-pushgateway already installed"
        return
    fi
    log "installing Debian packages prometheus and prometheus-pushgateway (binaries only)"
    # We run our own processes (deploy/local/stack); the packaged services must not start and take ports 9090/9091.
    # policy-rc.d exit 101 tells invoke-rc.d "not allowed"; add one only for the install when none exists.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        added_policy=1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus prometheus-pushgateway
    if [[ $added_policy -eq 1 ]]; then as_root rm -f "$policy"; fi
    # Where systemd does run, switch the packaged units off so they never hold our ports.
    if [[ -d /run/systemd/system ]]; then
        as_root systemctl disable --now prometheus prometheus-pushgateway || true
    fi
}

install_burrow() {
    local burrow="$BIN_DIR/Burrow"
    if [[ -x $burrow ]] && go version -m "$burrow" 2>/dev/null | grep -qE "^\s+mod\s+github.com/linkedin/Burrow\s+$BURROW_VERSION\b"; then
        log "Burrow $BURROW_VERSION already in $BIN_DIR"
        return
    fi
    command -v go >/dev/null || { echo "go not found: Burrow is built with 'go install' (Go >= 1.24, from its go.mod)" >&2; exit 1; }
    log "building Burrow $BURROW_VERSION with go install (about 2 minutes on first run: downloads and compiles deps)"
    # `go install mod@version` also asks the proxy for the module's version list (deprecation check), and
    # the module proxy here answers 403 for Burrow's list. Download the pinned version first, then put the local module
    # cache (a valid file:// proxy whose list holds the versions we have) in front of the configured proxy.
    go mod download "github.com/linkedin/Burrow@$BURROW_VERSION"
    local cache_proxy
    cache_proxy="file://$(go env GOMODCACHE)/cache/download"
    GOPROXY="$cache_proxy,$(go env GOPROXY)" GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:-} -trimpath" \
        go install "github.com/linkedin/Burrow@$BURROW_VERSION"
}

install_debian_tools
install_burrow
log "done: $(prometheus --version 2>&1 | head -1); $(prometheus-pushgateway --version 2>&1 | head -1); Burrow $BURROW_VERSION"
