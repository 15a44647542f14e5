# Container images (local and Databricks flavours), included by the root Makefile. Docker when an engine answers,
# else buildah (vfs, chroot): e.g. `make image BUILD_TARGET=databricks IMAGE_TAG=1.2.0`.
# No registry to pull bases from? `make image-base`, then `make image PYTHON_BASE=localhost/ner-base-python:bookworm`.
BUILD_TARGET ?= local
IMAGE_NAME ?= ner-streaming
IMAGE_TAG ?= dev
# Empty: the Dockerfile's defaults (python:3.11-slim-bookworm, databricksruntime/python LTS).
PYTHON_BASE ?=
# The Databricks runtime and its Container Services base, in one place with the deploy.
include deploy/databricks/runtime.env
DATABRICKS_BASE ?= $(DATABRICKS_BASE_IMAGE)
IMAGE_REGISTRY ?=
IMAGE_ENV = LOCAL=$(LOCAL) BUILD_TARGET=$(BUILD_TARGET) IMAGE_NAME=$(IMAGE_NAME) IMAGE_TAG=$(IMAGE_TAG) \
	PYTHON_BASE=$(PYTHON_BASE) DATABRICKS_BASE=$(DATABRICKS_BASE) IMAGE_REGISTRY=$(IMAGE_REGISTRY)

# Each target installs the tools it needs when missing (apt-get; nothing to do when present).
IMAGE_TOOLS := bash deploy/image/install-tools.sh

.PHONY: image image-base image-push image-test image-tools
image-tools: ## Install buildah and debootstrap (apt-get) when missing; the image targets do it themselves
	@IMAGE_BUILDER=buildah $(IMAGE_TOOLS) buildah debootstrap

image: ## Build the image IMAGE_NAME:IMAGE_TAG (BUILD_TARGET=local|databricks; the unit tests run in the build)
	@$(IMAGE_TOOLS) buildah
	@$(IMAGE_ENV) bash deploy/image/build-image.sh

image-base: ## Build local base images with debootstrap + buildah (Python on bookworm, a Databricks stand-in)
	@IMAGE_BUILDER=buildah $(IMAGE_TOOLS) buildah debootstrap
	@LOCAL=$(LOCAL) bash deploy/image/make-base.sh all

image-push: ## Push IMAGE_NAME:IMAGE_TAG to IMAGE_REGISTRY (log in first)
	@$(IMAGE_ENV) bash deploy/image/push-image.sh

image-test: venv ## Build both images on the local bases and test them: unit tests and a Kafka round trip inside (slow)
	@IMAGE_BUILDER=buildah $(IMAGE_TOOLS) buildah debootstrap
	@LOCAL=$(LOCAL) IMAGE_NAME=$(IMAGE_NAME) IMAGE_TAG=$(IMAGE_TAG) bash deploy/image/image-test.sh
