#!/usr/bin/env bash
# Cluster init script: serve Spark metrics in Prometheus format from the driver's UI port.
#   /metrics/prometheus            driver metrics, from the PrometheusServlet sink configured below
#   /metrics/executors/prometheus  executor metrics, served by the driver when spark.ui.prometheus.enabled=true
#                                  (set in the job's spark_conf by deploy-job.sh)
# Databricks runs init scripts as root on the driver and on every worker before Spark starts, and Spark there reads
# its metrics configuration from /databricks/spark/conf/metrics.properties. We append to that file rather than
# replace it, to keep the sinks Databricks configures itself; the marker makes a second run a no-op.
set -euo pipefail

readonly CONF=${SPARK_METRICS_CONF:-/databricks/spark/conf/metrics.properties}
readonly MARKER="# ner-streaming: PrometheusServlet"

mkdir -p "$(dirname "$CONF")"
touch "$CONF"
if grep -qxF "$MARKER" "$CONF"; then
  echo "init-script: $CONF already configured"
  exit 0
fi

cat >>"$CONF" <<PROPERTIES

$MARKER
*.sink.prometheusServlet.class=org.apache.spark.metrics.sink.PrometheusServlet
*.sink.prometheusServlet.path=/metrics/prometheus
master.sink.prometheusServlet.path=/metrics/master/prometheus
applications.sink.prometheusServlet.path=/metrics/applications/prometheus
driver.source.jvm.class=org.apache.spark.metrics.source.JvmSource
executor.source.jvm.class=org.apache.spark.metrics.source.JvmSource
PROPERTIES
echo "init-script: PrometheusServlet enabled in $CONF"
