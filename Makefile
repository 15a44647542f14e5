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
-include deploy/local/cluster/cluster.mk

.PHONY: help venv lint test test-unit test-reliability clean
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

TOX_VENV := $(LOCAL)/tox-venv
TOX := $(TOX_VENV)/bin/tox

# tox lives in a tiny venv of its own and manages .venv, which every tox env and `make demo` share.
$(TOX):
	@echo ">> bootstrapping tox in $(TOX_VENV)"
	$(PYTHON) -m venv $(TOX_VENV)
	$(TOX_VENV)/bin/pip install --quiet --disable-pip-version-check "tox==4.67.13"

venv: $(VENV)/.installed ## Create .venv with the pinned packages and the spaCy model (first run downloads ~500 MB)
$(VENV)/.installed: requirements.txt requirements-dev.txt bench/requirements.txt tox.ini | $(TOX)
	@echo ">> installing the pinned packages into $(VENV) (progress below)"
	$(TOX) -e py --notest -vv 2>&1 | grep -E "install_deps|Successfully|Collecting|Downloading" || true
	$(TOX) -e py --notest
	touch $@

# Runs a tox env's commands (tox.ini is their one home) in .venv, without tox re-creating it per env name.
IN_VENV := $(PY) deploy/image/tox-commands.py

lint: venv ## Lint (ruff) and type-check (mypy)
	$(IN_VENV) lint
	$(IN_VENV) type

test: venv kafka-jars monitoring-tools ## Run every test; starts and stops the local broker (and monitoring stack) it needs
	$(IN_VENV) test

test-unit: venv ## Run the tests that need no broker
	$(IN_VENV) unit

test-reliability: venv kafka-jars monitoring-tools ## Run the fault tests at full size (20,000 messages, 5 kill -9, ...; slow)
	$(IN_VENV) reliability

clean: down ## Stop everything and remove local state (.local/, .tox/)
	rm -rf $(LOCAL) .tox
