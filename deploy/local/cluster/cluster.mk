# A local Spark standalone cluster and batch inference, included by the root Makefile.
# `make cluster-up`, then `make app MASTER=spark://127.0.0.1:7077` runs the unchanged job on it.
SPARK_MASTER_PORT ?= 7077
SPARK_MASTER_WEBUI_PORT ?= 8080
SPARK_WORKERS ?= 2
SPARK_WORKER_MEMORY ?= 2g
CLUSTER_RUN = SPARK_MASTER_PORT=$(SPARK_MASTER_PORT) SPARK_MASTER_WEBUI_PORT=$(SPARK_MASTER_WEBUI_PORT) \
	SPARK_WORKERS=$(SPARK_WORKERS) SPARK_WORKER_MEMORY=$(SPARK_WORKER_MEMORY) $(STACK) cluster
INPUT ?=
OUTPUT ?=
BATCH_ARGS ?=

.PHONY: cluster-up cluster-down cluster-status batch
cluster-up: venv ## Start a Spark standalone cluster here: a master (spark://127.0.0.1:7077, UI :8080) and 2 one-core workers
	@$(CLUSTER_RUN) start

cluster-down: venv ## Stop the local Spark cluster (only the daemons it recorded)
	@$(CLUSTER_RUN) stop

cluster-status: venv ## Is the local Spark cluster running, and how many workers are alive?
	@$(CLUSTER_RUN) status

batch: venv ## Batch inference: make batch INPUT=docs.jsonl|.parquet OUTPUT=dir (writes OUTPUT/result, OUTPUT/dead-letter)
	@test -n "$(INPUT)" -a -n "$(OUTPUT)" || { echo "usage: make batch INPUT=path OUTPUT=dir [BATCH_ARGS=...]" >&2; exit 2; }
	$(if $(MASTER),SPARK_MASTER=$(MASTER)) $(PY) -m app.run --mode batch --input "$(INPUT)" --output "$(OUTPUT)" $(BATCH_ARGS)

backfill: venv ## Re-annotate a Kafka time range into the output topics: make backfill SINCE=2026-12-05T09:00:00Z [UNTIL=...]
	@test -n "$(SINCE)" || { echo "usage: make backfill SINCE=time [UNTIL=time] (ISO 8601 with zone, or epoch ms)" >&2; exit 2; }
	$(if $(MASTER),SPARK_MASTER=$(MASTER)) KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP_SERVERS) INPUT_TOPIC=$(INPUT_TOPIC) \
		$(PY) -m app.run --mode backfill --since "$(SINCE)" $(if $(UNTIL),--until "$(UNTIL)")
