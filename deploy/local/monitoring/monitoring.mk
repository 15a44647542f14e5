# The local monitoring stack (Burrow, Pushgateway, Prometheus) without Docker; included by the root Makefile.
# Ports and the broker come from the environment: BURROW_PORT, PUSHGATEWAY_PORT, PROMETHEUS_PORT,
# KAFKA_BOOTSTRAP_SERVERS (see Monitoring.from_env in deploy/local/stack/monitoring.py for all of them).
MONITORING_DIR := deploy/local/monitoring
MONITORING_ENV = LOCAL=$(LOCAL) MONITORING_STATE_DIR=$(LOCAL)/monitoring MONITORING_BIN_DIR=$(LOCAL)/bin \
	$(if $(KAFKA_BOOTSTRAP_SERVERS),KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP_SERVERS)) $(KAFKA_ENV)

.PHONY: monitoring-tools monitor monitor-down monitor-status
monitoring-tools: ## Install Prometheus, promtool, Pushgateway (apt) and build Burrow (go install, ~2 min once)
	$(MONITORING_ENV) $(MONITORING_DIR)/install.sh

monitor: venv kafka-jars monitoring-tools ## Start Burrow :8000, Pushgateway :9091, Prometheus :9090 against the broker (starts the local one if needed)
	$(MONITORING_ENV) $(STACK) monitoring start

monitor-down: venv ## Stop the local monitoring stack
	$(MONITORING_ENV) $(STACK) monitoring stop

monitor-status: venv ## Show whether Burrow, Pushgateway and Prometheus are up
	$(MONITORING_ENV) $(STACK) monitoring status
