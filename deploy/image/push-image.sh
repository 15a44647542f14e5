#!/usr/bin/env bash
# Push IMAGE_NAME:IMAGE_TAG to IMAGE_REGISTRY (e.g. an ECR or ACR repository host/path), with docker where a
# Docker engine answers, else buildah. Log in first (`docker login` / `buildah login`); the pushed reference is
# printed, ready for the Databricks cluster's docker_image.url. With IMAGE_DIGEST_FILE set, the pushed manifest's
# digest (sha256:<hex>) is written there: the deploy then pins the image by digest, not by its mutable tag.
set -euo pipefail
name=${IMAGE_NAME:-ner-streaming} tag=${IMAGE_TAG:-dev}
registry=${IMAGE_REGISTRY:?set IMAGE_REGISTRY to the registry (and path) to push to, e.g. IMAGE_REGISTRY=registry.example.com/ml}
dest="${registry%/}/$name:$tag"
builder=${IMAGE_BUILDER:-}
if [[ -z $builder ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker; else builder=buildah; fi
fi
digest_file=${IMAGE_DIGEST_FILE:-}
pushed_digest=$(mktemp)
trap 'rm -f "$pushed_digest"' EXIT
case $builder in
  docker)
    docker tag "$name:$tag" "$dest" && docker push "$dest"
    # RepoDigests holds name@sha256:<hex> for each repository the image was pushed to.
    docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$dest" \
      | sed -n "s|^${registry%/}/$name@||p" | head -n1 >"$pushed_digest" ;;
  buildah) buildah --storage-driver vfs push --digestfile "$pushed_digest" "localhost/$name:$tag" "docker://$dest" ;;
  *) echo "push-image: IMAGE_BUILDER=$builder must be docker or buildah" >&2; exit 2 ;;
esac
digest=$(tr -d '[:space:]' <"$pushed_digest")
if [[ ! $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "push-image: pushed $dest but could not read its digest (got '${digest:0:80}')" >&2
  exit 1
fi
if [[ -n $digest_file ]]; then printf '%s\n' "$digest" >"$digest_file"; fi
echo ">> pushed $dest@$digest" >&2
