#!/usr/bin/env bash
# Push IMAGE_NAME:IMAGE_TAG to IMAGE_REGISTRY (e.g. an ECR or ACR repository host/path), with docker where a
# Docker engine answers, else buildah. Log in first (`docker login` / `buildah login`); the pushed reference is
# printed, ready for the Databricks cluster's docker_image.url.
set -euo pipefail
name=${IMAGE_NAME:-ner-streaming} tag=${IMAGE_TAG:-dev}
registry=${IMAGE_REGISTRY:?set IMAGE_REGISTRY to the registry (and path) to push to, e.g. IMAGE_REGISTRY=registry.example.com/ml}
dest="${registry%/}/$name:$tag"
builder=${IMAGE_BUILDER:-}
if [[ -z $builder ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker; else builder=buildah; fi
fi
case $builder in
  docker) docker tag "$name:$tag" "$dest" && docker push "$dest" ;;
  buildah) buildah --storage-driver vfs push "localhost/$name:$tag" "docker://$dest" ;;
  *) echo "push-image: IMAGE_BUILDER=$builder must be docker or buildah" >&2; exit 2 ;;
esac
echo ">> pushed $dest" >&2
