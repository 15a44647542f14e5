#!/usr/bin/env bash
# Install the tools the image targets need when they are missing, from Debian: buildah (builds and runs images
# without a Docker engine) and debootstrap (the local base images). Idempotent: a few milliseconds when present.
# buildah is not needed, and not installed, where a Docker engine answers (build-image.sh then uses Docker),
# unless IMAGE_BUILDER=buildah.
# Usage: install-tools.sh TOOL...   (buildah, debootstrap)
set -euo pipefail

log() { echo ">> image-tools: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
for tool in "$@"; do
  case $tool in
    buildah)
      case ${IMAGE_BUILDER:-} in
        docker) continue ;;
        buildah) ;;
        *) if command -v docker >/dev/null && docker info >/dev/null 2>&1; then continue; fi ;;
      esac ;;
    debootstrap) ;;
    *) echo "install-tools: unknown tool $tool (buildah or debootstrap)" >&2; exit 2 ;;
  esac
  # debootstrap lives in /usr/sbin, which a non-root PATH may lack.
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || missing+=("$tool")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

command -v apt-get >/dev/null \
  || { echo "install-tools: ${missing[*]} missing and no apt-get here: install them with this system's packages" >&2; exit 1; }
log "installing ${missing[*]} (apt-get)"
as_root apt-get update -qq
# No recommends: vfs storage and chroot isolation as root need neither fuse-overlayfs, slirp4netns nor uidmap.
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
log "done: $(buildah --version 2>/dev/null || echo 'no buildah'); debootstrap $(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo '-')"
