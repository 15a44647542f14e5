# The front door: `make help` lists every target. Area-specific targets live in the *.mk fragments included below.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
LOCAL ?= .local
export PYTHONUNBUFFERED := 1

include deploy/local/kafka/kafka.mk
-include deploy/local/app/app.mk
-include deploy/local/monitoring/monitoring.mk
-include deploy/docker.mk
-include bench/bench.mk

.PHONY: help venv lint typecheck test clean
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create the virtualenv with the pinned packages (and the spaCy model)
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo ">> creating $(VENV) and installing pinned packages (first run downloads ~500 MB)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -r requirements-dev.txt
	touch $@

lint: venv ## Lint (ruff) and type-check (mypy) through tox
	$(VENV)/bin/tox -e lint,type

test: venv kafka-jars ## Run the test suite (starts and stops the local broker it needs)
	$(VENV)/bin/tox -e test

clean: down ## Stop everything and remove local state (.local/, .tox/)
	rm -rf $(LOCAL) .tox
