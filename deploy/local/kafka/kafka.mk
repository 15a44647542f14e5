# Local Kafka broker without Docker (official jars from Maven Central), included by the root Makefile.
# Override on the command line or from the environment, e.g. `make kafka KAFKA_PORT=29092 PARTITIONS=4`.
KAFKA_HOST ?= 127.0.0.1
KAFKA_PORT ?= 9092
KAFKA_CONTROLLER_PORT ?= 9093
KAFKA_STATE_DIR ?= $(LOCAL)/kafka
KAFKA_BOOTSTRAP_SERVERS ?= $(KAFKA_HOST):$(KAFKA_PORT)
PARTITIONS ?= 2
INPUT_TOPIC ?= input
RESULT_TOPIC ?= result
DEAD_LETTER_TOPIC ?= dead-letter
KAFKA_TOPICS ?= $(INPUT_TOPIC) $(RESULT_TOPIC) $(DEAD_LETTER_TOPIC)
KAFKA_ENV = KAFKA_HOST=$(KAFKA_HOST) KAFKA_PORT=$(KAFKA_PORT) KAFKA_CONTROLLER_PORT=$(KAFKA_CONTROLLER_PORT) \
	KAFKA_STATE_DIR=$(KAFKA_STATE_DIR)
KAFKA_RUN = $(KAFKA_ENV) $(STACK) kafka

.PHONY: kafka-jars kafka kafka-down kafka-status list-topics create-topics
kafka-jars: venv ## Fetch the Kafka broker jars from Maven Central (once)
	@$(KAFKA_RUN) jars

kafka: kafka-jars ## Start the local Kafka broker (no Docker) and create the input, result and dead-letter topics
	@$(KAFKA_RUN) start
	@$(KAFKA_RUN) create-topics --partitions $(PARTITIONS) $(KAFKA_TOPICS)

kafka-down: venv ## Stop the local Kafka broker (its data stays in .local/kafka)
	@$(KAFKA_RUN) stop

kafka-status: venv ## Is the local Kafka broker running?
	@$(KAFKA_RUN) status

list-topics: venv ## List the topics on the local Kafka broker
	@$(KAFKA_RUN) list-topics

create-topics: venv ## Create the topics (KAFKA_TOPICS, default input result dead-letter; PARTITIONS=2), if missing
	@$(KAFKA_RUN) create-topics --partitions $(PARTITIONS) $(KAFKA_TOPICS)
