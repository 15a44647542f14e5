# Benchmarks (bench/, docs/benchmarks.md), included by the root Makefile. They run on a broker of their own, on
# ports and a state dir that neither `make kafka` nor the test fixtures use, and stop it afterwards.
BENCH_KAFKA_PORT ?= 29792
BENCH_KAFKA_CONTROLLER_PORT ?= 29793
BENCH_KAFKA_STATE_DIR ?= $(LOCAL)/bench-kafka
BENCH_BOOTSTRAP := 127.0.0.1:$(BENCH_KAFKA_PORT)
BENCH_KAFKA = KAFKA_PORT=$(BENCH_KAFKA_PORT) KAFKA_CONTROLLER_PORT=$(BENCH_KAFKA_CONTROLLER_PORT) \
	KAFKA_STATE_DIR=$(BENCH_KAFKA_STATE_DIR) $(STACK) kafka
# Starts the broker, runs the command, and stops the broker however the command ends.
BENCH_WITH_BROKER = $(BENCH_KAFKA) start && trap '$(BENCH_KAFKA) stop' EXIT && KAFKA_BOOTSTRAP_SERVERS=$(BENCH_BOOTSTRAP)
BENCH_ARGS ?=

.PHONY: bench-deps bench bench-quick bench-levers bench-probe bench-shares soak
# The bench-only packages (bench/requirements.txt) come with the dev set (make venv-dev), as the harness smoke
# test in `make test` needs them too.
bench-deps: venv-dev ## Install the bench packages (quixstreams, matplotlib, psutil, py-spy) into .venv

bench: bench-deps kafka-jars ## Full benchmark (~32 min on 2 idle cores): ceiling sweep, every contender with the latency curve, mixed languages, scaling; writes bench/results/full.json, docs/benchmarks.md and its plots
	$(BENCH_WITH_BROKER) $(PY) -m bench.run --out bench/results/full.json --report docs/benchmarks.md \
		--plot docs/benchmarks.png $(BENCH_ARGS)

bench-quick: bench-deps kafka-jars ## Quick benchmark (~5 min): 400 docs, one 15 s latency phase at 50%, no scaling, no ceiling sweep; results under bench/results/raw/
	$(BENCH_WITH_BROKER) $(PY) -m bench.run --docs 400 --latency-seconds 15 --no-scaling --curve 0.5 \
		--ceiling-batch-sizes 64 --mixed-repeat 1 --out bench/results/raw/quick.json $(BENCH_ARGS)

bench-levers: bench-deps kafka-jars ## Study the service's levers (drain rate per setting) into bench/results/raw/levers.json
	$(BENCH_WITH_BROKER) $(PY) -m bench.levers --out bench/results/raw/levers.json $(BENCH_ARGS)

bench-probe: bench-deps kafka-jars ## The service at one rate with per-batch durations, e.g. BENCH_ARGS="--rate 80 --set KAFKA_FETCH_MAX_WAIT_MS=500"
	$(BENCH_WITH_BROKER) $(PY) -m bench.probe --out bench/results/raw/probe.jsonl $(BENCH_ARGS)

bench-shares: bench-deps kafka-jars ## Where the cores go during a drain, per role (inference, JVM, broker, harness...), for the service and the plain consumer; bench/results/raw/shares.json
	$(BENCH_WITH_BROKER) $(PY) -m bench.shares --out bench/results/raw/shares.json $(BENCH_ARGS)

SOAK_MINUTES ?= 120
soak: bench-deps kafka-jars ## 2-hour RSS soak of the service at 50% load (not in CI; SOAK_MINUTES=30 for a short one); bench/results/raw/soak.json
	$(BENCH_WITH_BROKER) $(PY) -m bench.soak --minutes $(SOAK_MINUTES) --out bench/results/raw/soak.json $(BENCH_ARGS)
