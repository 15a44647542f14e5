# Running the job locally, included by the root Makefile.
MASTER ?=
APP_ENV_VARS = KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP_SERVERS) $(if $(MASTER),SPARK_MASTER=$(MASTER))
FILE ?= deploy/local/input.json

.PHONY: demo up down app app-start app-stop produce-input consume-result consume-dead-letter
demo: venv kafka-jars ## All set-up, then: broker + job, send deploy/local/input.json, print results, stop
	@$(APP_ENV_VARS) $(KAFKA_ENV) $(STACK) demo

up: venv kafka ## Start the broker and the job in the background (returns once the query runs)
	@$(APP_ENV_VARS) $(STACK) app start

down: ## Stop the job, the monitoring stack and the broker (only processes this project recorded)
	@if [ -x $(PY) ]; then $(MONITORING_ENV) $(STACK) down; fi

app: venv ## Run the job in the foreground (Ctrl+C stops it cleanly); MASTER=spark://... for a cluster
	$(APP_ENV_VARS) $(PY) -m app.run

produce-input: venv ## Send a JSON Lines file to the input topic (FILE=deploy/local/input.json)
	@$(STACK) --bootstrap $(KAFKA_BOOTSTRAP_SERVERS) produce --topic $(INPUT_TOPIC) $(FILE)

consume-result: venv ## Print the result topic from the beginning, then follow it (Ctrl+C to stop)
	@$(STACK) --bootstrap $(KAFKA_BOOTSTRAP_SERVERS) consume --topic $(RESULT_TOPIC) --from-beginning

consume-dead-letter: venv ## Print the dead-letter topic from the beginning, then follow it
	@$(STACK) --bootstrap $(KAFKA_BOOTSTRAP_SERVERS) consume --topic $(DEAD_LETTER_TOPIC) --from-beginning

replay: venv ## Re-send dead letters to their input topic: make replay ARGS="--reason text_too_long --dry-run" (--help)
	@KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP_SERVERS) DEAD_LETTER_TOPIC=$(DEAD_LETTER_TOPIC) $(PY) -m app.kafka.replay $(ARGS)
