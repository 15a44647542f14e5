# The Databricks runtime's versions, run for real (included by the root Makefile): the unit tests and the streaming
# end-to-end tests in .venv-runtime, on the Spark, Python, numpy, pandas and pyarrow of deploy/databricks/runtime.env.
# `make test-newest` runs the same on the newest pyspark release, so an upgrade is one line here or in runtime.env.
include deploy/databricks/runtime.env
RUNTIME_VENV ?= .venv-runtime
RUNTIME_SPARK ?= $(DATABRICKS_RUNTIME_SPARK)
# The newest pyspark whose Kafka connector (spark-sql-kafka-0-10_2.13) is on Maven Central: the job needs both at
# one version. pyspark 4.3.0 is on PyPI, its connector is not yet (Ivy: "module not found ...;4.3.0").
NEWEST_SPARK ?= 4.2.0
RUNTIME_PY = $(RUNTIME_VENV)/bin/python
RUNTIME_PINS = $(RUNTIME_PY) deploy/image/runtime_pins.py
# The streaming end-to-end tests (real broker, the job's Spark): the demo input through the job and its committed
# offsets, mixed languages, quarantine of a poison offset and of a worker-killing message, graceful stop, and the
# exactly-once write path (confluent-kafka's transactions in the runtime's Python workers).
RUNTIME_E2E ?= \
	test/test_run.py::test_demo_input_end_to_end_and_offsets_committed \
	test/test_run.py::test_sigterm_stops_cleanly_with_final_commit \
	test/spark/test_pipeline.py::test_stream_routes_every_message_and_matches_spacy \
	test/spark/test_pipeline.py::test_a_mixed_language_stream_runs_each_message_through_its_language_s_model \
	test/spark/test_pipeline.py::test_quarantined_offsets_become_poison_without_reaching_python \
	test/spark/test_pipeline.py::test_exactly_once_writes_the_same_records_and_commits_the_group_in_its_transactions \
	test/reliability/test_poison.py::test_a_crashed_worker_is_quarantined_not_a_crash_loop \
	test/reliability/test_graceful_stop.py::test_sigterm_restart_writes_no_duplicates

.PHONY: test-runtime test-newest runtime-venv
test-runtime: runtime-venv ## Unit + streaming end-to-end tests on the Databricks runtime's Spark, Python 3.12, numpy, pandas, pyarrow
	@echo ">> $(RUNTIME_VENV): $$($(RUNTIME_PY) -c 'import sys, pyspark, numpy, pandas, pyarrow; print(f"Python {sys.version.split()[0]}, pyspark {pyspark.__version__}, numpy {numpy.__version__}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}")')"
	$(KAFKA_ENV) $(RUNTIME_PY) -m deploy.local.stack kafka jars
	$(RUNTIME_PY) -m pytest -m "not integration" $(PYTEST_ARGS)
	$(RUNTIME_PY) -m pytest $(RUNTIME_E2E) $(PYTEST_ARGS)

test-newest: ## test-runtime on the newest pyspark release (NEWEST_SPARK) in .venv-newest: an upgrade is one line
	@$(MAKE) --no-print-directory test-runtime RUNTIME_SPARK=$(NEWEST_SPARK) RUNTIME_VENV=.venv-newest

# Python 3.12 from pyenv or PATH; none is an error, never a skip. The venv is rebuilt from scratch when a pin
# changes, so nothing of another Spark stays behind. Our pins of pyspark, numpy, pandas and pyarrow give way to the
# runtime's (runtime_pins.py): pip then proves the rest of requirements.txt installs beside them.
runtime-venv: $(RUNTIME_VENV)/.installed-$(RUNTIME_SPARK) ## Create .venv-runtime (Python 3.12, the runtime's pins)
$(RUNTIME_VENV)/.installed-$(RUNTIME_SPARK): requirements.txt requirements-dev.txt bench/requirements.txt \
		deploy/databricks/runtime.env deploy/image/runtime_pins.py
	@want=$(DATABRICKS_RUNTIME_PYTHON); py=; \
	if command -v pyenv >/dev/null && prefix=$$(pyenv prefix "$$want" 2>/dev/null); then py=$$prefix/bin/python$$want; \
	elif command -v "python$$want" >/dev/null && "python$$want" -V >/dev/null 2>&1; then py=$$(command -v "python$$want"); fi; \
	if [ -z "$$py" ] || ! "$$py" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$$want'.split('.'))))"; then \
		echo "test-runtime: no Python $$want (the Databricks runtime's, DATABRICKS_RUNTIME_PYTHON in runtime.env): install it (pyenv install $$want, or apt-get install python$$want) and run again" >&2; exit 1; \
	fi; \
	echo ">> creating $(RUNTIME_VENV) with $$py ($$("$$py" -V))"; \
	rm -rf $(RUNTIME_VENV) && "$$py" -m venv $(RUNTIME_VENV) && echo '*' > $(RUNTIME_VENV)/.gitignore
	$(RUNTIME_PINS) constraints --spark $(RUNTIME_SPARK) > $(RUNTIME_VENV)/constraints.txt
	$(RUNTIME_PINS) requirements requirements-dev.txt bench/requirements.txt > $(RUNTIME_VENV)/requirements.txt
	@echo ">> installing into $(RUNTIME_VENV): $$(paste -sd' ' $(RUNTIME_VENV)/constraints.txt) and the rest of our requirements"
	$(RUNTIME_PY) -m pip install --quiet --disable-pip-version-check \
		-c $(RUNTIME_VENV)/constraints.txt -r $(RUNTIME_VENV)/requirements.txt
	$(RUNTIME_PY) -m pip check
	$(RUNTIME_PINS) check --spark $(RUNTIME_SPARK)
	touch $@
