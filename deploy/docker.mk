# Container images (local and Databricks flavours), included by the root Makefile. Docker when an engine answers,
# else buildah (vfs, chroot): e.g. `make image BUILD_TARGET=databricks IMAGE_TAG=1.2.0`.
# No registry to pull bases from? `make image-base`, then `make image PYTHON_BASE=localhost/ner-base-python:bookworm`.
BUILD_TARGET ?= local
IMAGE_NAME ?= ner-streaming
IMAGE_TAG ?= dev
# Empty: the Dockerfile's defaults (python:3.11-slim-bookworm, databricksruntime/python LTS).
PYTHON_BASE ?=
DATABRICKS_BASE ?=
IMAGE_REGISTRY ?=
IMAGE_ENV = LOCAL=$(LOCAL) BUILD_TARGET=$(BUILD_TARGET) IMAGE_NAME=$(IMAGE_NAME) IMAGE_TAG=$(IMAGE_TAG) \
	PYTHON_BASE=$(PYTHON_BASE) DATABRICKS_BASE=$(DATABRICKS_BASE) IMAGE_REGISTRY=$(IMAGE_REGISTRY)

.PHONY: image image-base image-push image-test
image: ## Build the image IMAGE_NAME:IMAGE_TAG (BUILD_TARGET=local|databricks; the unit tests run in the build)
	@$(IMAGE_ENV) bash deploy/image/build-image.sh

image-base: ## Build local base images with debootstrap + buildah (Python on bookworm, a Databricks stand-in)
	@LOCAL=$(LOCAL) bash deploy/image/make-base.sh all

image-push: ## Push IMAGE_NAME:IMAGE_TAG to IMAGE_REGISTRY (log in first)
	@$(IMAGE_ENV) bash deploy/image/push-image.sh

image-test: ## Build both images on the local bases and test them: unit tests and a Kafka round trip inside (slow)
	@LOCAL=$(LOCAL) IMAGE_NAME=$(IMAGE_NAME) IMAGE_TAG=$(IMAGE_TAG) bash deploy/image/image-test.sh
