# Container images (local and Databricks flavours), included by the root Makefile. Docker when an engine answers,
# else buildah (vfs, chroot): e.g. `make image BUILD_TARGET=databricks IMAGE_TAG=1.2.0`.
# No registry to pull bases from? `make image-base`, then `make image PYTHON_BASE=localhost/ner-base-python:bookworm`.
BUILD_TARGET ?= local
IMAGE_NAME ?= ner-streaming
IMAGE_TAG ?= dev
# Empty: the Dockerfile's default (python:3.11-slim-bookworm, pinned by digest there once filled).
PYTHON_BASE ?=
# The Databricks runtime and its Container Services base, in one place with the deploy; by digest once
# DATABRICKS_BASE_DIGEST is filled there.
include deploy/databricks/runtime.env
DATABRICKS_BASE ?= $(DATABRICKS_BASE_IMAGE)$(if $(DATABRICKS_BASE_DIGEST),@$(DATABRICKS_BASE_DIGEST))
IMAGE_REGISTRY ?=
# The OCI labels org.opencontainers.image.source and .revision (CI sets IMAGE_SOURCE when the clone has no remote).
IMAGE_SOURCE ?= $(shell git config --get remote.origin.url 2>/dev/null)
IMAGE_REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE_ENV = LOCAL=$(LOCAL) BUILD_TARGET=$(BUILD_TARGET) IMAGE_NAME=$(IMAGE_NAME) IMAGE_TAG=$(IMAGE_TAG) \
	PYTHON_BASE=$(PYTHON_BASE) DATABRICKS_BASE=$(DATABRICKS_BASE) IMAGE_REGISTRY=$(IMAGE_REGISTRY) \
	IMAGE_SOURCE=$(IMAGE_SOURCE) IMAGE_REVISION=$(IMAGE_REVISION) IMAGE_DIGEST_FILE=$(IMAGE_DIGEST_FILE)

# Each target installs the tools it needs when missing (apt-get; nothing to do when present).
IMAGE_TOOLS := bash deploy/image/install-tools.sh

.PHONY: image image-base image-push image-test image-tools lock
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
	@LOCAL=$(LOCAL) IMAGE_NAME=$(IMAGE_NAME) IMAGE_TAG=$(IMAGE_TAG) IMAGE_SOURCE=$(IMAGE_SOURCE) \
		IMAGE_REVISION=$(IMAGE_REVISION) bash deploy/image/image-test.sh

# The images install these with pip --require-hashes: every package pinned, with the hashes of all its files on
# PyPI (any Python >= 3.11, any platform). requirements.lock: requirements.txt for the local image.
# requirements-databricks.lock: the same without pyspark, with the runtime's numpy, pandas and pyarrow
# (runtime.env), setuptools too. deploy/image/build.lock: the build backend that makes the app's wheel.
# test/deploy/test_image_lock.py fails when a lock falls behind requirements.txt or runtime.env.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"
lock: venv-dev ## Regenerate the hash-pinned lock files the images install (after changing requirements.txt or runtime.env)
	@mkdir -p $(LOCAL)/lock
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(PY) deploy/image/runtime_pins.py constraints > $(LOCAL)/lock/runtime-constraints.txt
	$(PY) deploy/image/runtime_pins.py requirements requirements.txt --without pyspark > $(LOCAL)/lock/databricks.in
	$(UV_COMPILE) $(LOCAL)/lock/databricks.in -c $(LOCAL)/lock/runtime-constraints.txt -o requirements-databricks.lock
	$(UV_COMPILE) deploy/image/build.in -o deploy/image/build.lock
