#!/usr/bin/env bash
# Build the service image: `docker build` where a Docker engine answers, else buildah (vfs storage, chroot
# isolation: no daemon, no privileges beyond root). Both read the same Dockerfile.
#
# Environment (defaults in brackets):
#   BUILD_TARGET     local or databricks [local]
#   IMAGE_NAME       [ner-streaming]
#   IMAGE_TAG        [dev]
#   PYTHON_BASE      base of the local image and the test stage [the Dockerfile's: python:3.11-slim-bookworm]
#   DATABRICKS_BASE  base of the databricks image [the Dockerfile's: databricksruntime/python LTS]
#                    (either base may be pinned: name:tag@sha256:<digest>)
#   IMAGE_SOURCE     OCI label org.opencontainers.image.source (make: the git remote) [none]
#   IMAGE_REVISION   OCI label org.opencontainers.image.revision (make: git rev-parse HEAD) [none]
#   CA_BUNDLE        PEM bundle mounted at build time for TLS-intercepting networks (buildah only)
#                    [/etc/ssl/certs/ca-certificates.crt when it exists]
#   IMAGE_BUILDER    force docker or buildah [auto]
#   IMAGE_LAYERS     1: buildah caches every step (fast rebuilds, many GB of vfs layers) [0]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

target=${BUILD_TARGET:-local}
image="${IMAGE_NAME:-ner-streaming}:${IMAGE_TAG:-dev}"
case $target in local|databricks|test) ;; *) echo "build-image: BUILD_TARGET=$target must be local, databricks (or test: the stage that runs the unit tests)" >&2; exit 2 ;; esac

args=(--build-arg "BUILD_TARGET=$target" --target "$target" -t "$image" -f Dockerfile)
[[ -n ${PYTHON_BASE:-} ]] && args+=(--build-arg "PYTHON_BASE=$PYTHON_BASE")
[[ -n ${DATABRICKS_BASE:-} ]] && args+=(--build-arg "DATABRICKS_BASE=$DATABRICKS_BASE")
[[ -n ${IMAGE_SOURCE:-} ]] && args+=(--build-arg "IMAGE_SOURCE=$IMAGE_SOURCE")
[[ -n ${IMAGE_REVISION:-} ]] && args+=(--build-arg "IMAGE_REVISION=$IMAGE_REVISION")

builder=${IMAGE_BUILDER:-}
if [[ -z $builder ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker; else builder=buildah; fi
fi

start=$SECONDS
echo ">> building $image (BUILD_TARGET=$target) with $builder" >&2
case $builder in
  docker)
    DOCKER_BUILDKIT=1 docker build "${args[@]}" .
    ;;
  buildah)
    command -v buildah >/dev/null || { echo "build-image: no Docker engine and no buildah (apt-get install buildah)" >&2; exit 1; }
    ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
    mounts=()
    [[ -r $ca ]] && mounts=(-v "$ca:/etc/ssl/certs/ca-certificates.crt:ro")
    # vfs keeps every layer as a full copy of the file system (~2 GB here), so caching each step (--layers, like
    # Docker) costs ~20 GB per build and more per rebuild: off unless IMAGE_LAYERS=1 (image-test turns it on and
    # prunes afterwards). --force-rm: a failed build leaves no working containers behind.
    buildah --storage-driver vfs bud --isolation chroot --layers="${IMAGE_LAYERS:-0}" --force-rm \
      "${mounts[@]}" "${args[@]}" .
    ;;
  *) echo "build-image: IMAGE_BUILDER=$builder must be docker or buildah" >&2; exit 2 ;;
esac
echo ">> built $image in $((SECONDS - start)) s" >&2
