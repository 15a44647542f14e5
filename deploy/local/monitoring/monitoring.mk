# The local monitoring stack (Burrow, Pushgateway, Prometheus) without Docker; included by the root Makefile.
# Ports and the broker come from the environment: BURROW_PORT, PUSHGATEWAY_PORT, PROMETHEUS_PORT,
# KAFKA_BOOTSTRAP_SERVERS (see deploy/local/monitoring/monitoring.sh for all of them).
MONITORING_DIR := deploy/local/monitoring
MONITORING_ENV = LOCAL=$(LOCAL) MONITORING_STATE_DIR=$(LOCAL)/monitoring MONITORING_BIN_DIR=$(LOCAL)/bin \
	$(if $(KAFKA_BOOTSTRAP_SERVERS),KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP_SERVERS))

.PHONY: monitoring-tools monitor monitor-down monitor-status
monitoring-tools: ## Install Prometheus, promtool, Pushgateway (apt) and build Burrow (go install, ~2 min once)
	$(MONITORING_ENV) $(MONITORING_DIR)/install.sh

monitor: monitoring-tools ## Start Burrow :8000, Pushgateway :9091, Prometheus :9090 against the broker (start it first: make kafka)
	$(MONITORING_ENV) $(MONITORING_DIR)/monitoring.sh start

monitor-down: ## Stop the local monitoring stack
	$(MONITORING_ENV) $(MONITORING_DIR)/monitoring.sh stop

monitor-status: ## Show whether Burrow, Pushgateway and Prometheus are up
	$(MONITORING_ENV) $(MONITORING_DIR)/monitoring.sh status
