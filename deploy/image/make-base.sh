#!/usr/bin/env bash
# Build the two base images locally when no registry base can be pulled (no Docker Hub here):
#   localhost/ner-base-python:bookworm         - Debian bookworm + python3 (3.11), venv, pip: stands in for python:3.11-slim-bookworm
#   localhost/ner-databricks-standin:bookworm  - the same + a virtualenv at /databricks/python3, as the
#                                                databricksruntime/python images have (Spark is injected by the cluster)
# The root file system comes from debootstrap (Debian's own packages), the images are committed with buildah.
# Usage: make-base.sh [python|databricks|all]   (env: FORCE=1 rebuilds, DEBIAN_MIRROR overrides debootstrap's default)
set -euo pipefail

what=${1:-all}
LOCAL=${LOCAL:-.local}
ROOTFS=${ROOTFS:-$LOCAL/image/rootfs}
SUITE=bookworm
PYTHON_BASE_IMAGE=${PYTHON_BASE_IMAGE:-localhost/ner-base-python:bookworm}
DATABRICKS_STANDIN_IMAGE=${DATABRICKS_STANDIN_IMAGE:-localhost/ner-databricks-standin:bookworm}
BUILDAH=(buildah --storage-driver vfs)
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '>> %s\n' "$*" >&2; }
have_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }
for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "make-base: $tool not found (apt-get install buildah debootstrap)" >&2; exit 1; }
done

make_rootfs() {
  if [[ -x $ROOTFS/usr/bin/python3 && -z ${FORCE:-} ]]; then
    log "reusing root file system $ROOTFS"
    return
  fi
  rm -rf "$ROOTFS" && mkdir -p "$(dirname "$ROOTFS")"
  log "debootstrap $SUITE into $ROOTFS (a few minutes)"
  # minbase + what a Python base needs; bookworm's python3 is 3.11, as the project pins.
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,tzdata \
    "$SUITE" "$ROOTFS" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"}
  # Slim it like the official slim images: no apt lists, caches, docs or man pages.
  chroot "$ROOTFS" apt-get clean
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* \
    "$ROOTFS"/usr/share/man/* "$ROOTFS"/tmp/* "$ROOTFS"/var/log/*.log
  # debootstrap leaves the host's resolv.conf and hostname; the runtime provides its own.
  rm -f "$ROOTFS"/etc/resolv.conf "$ROOTFS"/etc/hostname
}

make_python_base() {
  if have_image "$PYTHON_BASE_IMAGE" && [[ -z ${FORCE:-} ]]; then
    log "$PYTHON_BASE_IMAGE exists"
    return
  fi
  make_rootfs
  log "committing $PYTHON_BASE_IMAGE"
  local ctr
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" copy "$ctr" "$ROOTFS" / >/dev/null
  "${BUILDAH[@]}" config --env LANG=C.UTF-8 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd python3 --label org.opencontainers.image.description="Debian $SUITE + python3 (debootstrap)" "$ctr"
  "${BUILDAH[@]}" commit --rm "$ctr" "$PYTHON_BASE_IMAGE" >/dev/null
}

make_databricks_standin() {
  if have_image "$DATABRICKS_STANDIN_IMAGE" && [[ -z ${FORCE:-} ]]; then
    log "$DATABRICKS_STANDIN_IMAGE exists"
    return
  fi
  make_python_base
  log "committing $DATABRICKS_STANDIN_IMAGE"
  local ctr
  ctr=$("${BUILDAH[@]}" from "$PYTHON_BASE_IMAGE")
  # As databricks/containers ubuntu/python: a virtualenv at /databricks/python3 that sees the system
  # site-packages, with the notebook basics; pyspark is NOT installed (the cluster injects Spark).
  "${BUILDAH[@]}" run --isolation chroot -v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" "$ctr" -- sh -euc '
    python3 -m venv --system-site-packages /databricks/python3
    /databricks/python3/bin/pip install --no-cache-dir --quiet --upgrade pip
    /databricks/python3/bin/pip install --no-cache-dir --quiet six'
  "${BUILDAH[@]}" config --env PYSPARK_PYTHON=/databricks/python3/bin/python3 \
    --label org.opencontainers.image.description="Stand-in for databricksruntime/python (no DBR)" "$ctr"
  "${BUILDAH[@]}" commit --rm "$ctr" "$DATABRICKS_STANDIN_IMAGE" >/dev/null
}

case $what in
  python) make_python_base ;;
  databricks) make_databricks_standin ;;
  all) make_python_base; make_databricks_standin ;;
  *) echo "usage: $0 [python|databricks|all]" >&2; exit 2 ;;
esac
