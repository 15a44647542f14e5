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
-include deploy/databricks/runtime.mk
-include deploy/databricks/bundle.mk
-include bench/bench.mk
-include deploy/local/cluster/cluster.mk
-include deploy/docs/docs.mk

.PHONY: help venv venv-dev lint ruff type format test test-unit test-reliability clean
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

# One .venv, filled in two steps so that `make demo` downloads only what the job needs: `venv` installs the runtime
# set (requirements.txt: pyspark, spaCy, the model, kafka-python, ...); `venv-dev` adds the test, lint and bench
# tools on top (requirements-dev.txt, bench/requirements.txt) for `make test`, `make lint` and `make bench`. Each
# stamp is remade when its requirement files change; pip then installs only what is missing or changed.
PIP := $(PY) -m pip install --disable-pip-version-check
$(PY):
	$(PYTHON) -m venv $(VENV)

venv: $(VENV)/.runtime-installed ## Create .venv with the job's pinned packages and the spaCy model (first run downloads ~610 MB)
$(VENV)/.runtime-installed: requirements.txt | $(PY)
	@echo ">> installing the runtime packages into $(VENV)"
	$(PIP) -r requirements.txt
	touch $@

venv-dev: $(VENV)/.dev-installed ## Add the test, lint and bench tools to .venv (make test, lint and bench do it)
$(VENV)/.dev-installed: requirements-dev.txt bench/requirements.txt $(VENV)/.runtime-installed
	@echo ">> installing the test, lint and bench packages into $(VENV)"
	$(PIP) -r requirements-dev.txt -r bench/requirements.txt
	touch $@

# The local stack's toolbox (deploy/local/stack): brokers, monitoring, the job, topics; runtime packages only.
STACK := $(PY) -m deploy.local.stack

# The commands of lint and tests live here; tox.ini's envs run these targets with VENV set to their own env.
# PYTEST_ARGS adds to pytest's arguments, e.g. make test-unit PYTEST_ARGS="-x test/deploy".
LINTED := app test deploy bench
PYTEST_ARGS ?=

lint: ruff type ## Lint and check the formatting (ruff), type-check (mypy)

ruff: venv-dev ## Lint (ruff check) and check the formatting (ruff format --check)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

type: venv-dev ## Type-check app/, deploy/ and bench/ (mypy)
	$(VENV)/bin/mypy app deploy bench

format: venv-dev ## Format the code in place (ruff format)
	$(VENV)/bin/ruff format $(LINTED)

test: venv-dev kafka-jars monitoring-tools ## Run every test; starts and stops the local broker (and monitoring stack) it needs
	$(PY) -m pytest -m "not reliability_full" $(PYTEST_ARGS)

test-unit: venv-dev ## Run the tests that need no broker
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

test-reliability: venv-dev kafka-jars monitoring-tools ## Run the fault tests at full size (20,000 messages, 5 kill -9, ...; slow)
	$(PY) -m pytest -m "reliability" $(PYTEST_ARGS)

clean: down ## Stop everything and remove local state (.local/, .tox/)
	rm -rf $(LOCAL) .tox
