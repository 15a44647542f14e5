"""Kafka client security end to end: the job over a SCRAM-SHA-512 listener and a SASL_SSL (PLAIN, TLS with a PEM
CA) listener, the offsets committer and the exactly-once workers' transactional producers included; a wrong
password fails fast and clearly; secrets never leak into logs, Spark event logs (progress, environment) or the
checkpoint."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic, UserScramCredentialUpsertion

from app.contract import Annotated
from app.kafka.options import OAUTH_ALLOWED_URLS_PROPERTY
from app.kafka.preflight import record_budget
from app.kafka.transactions import PartitionWriter
from app.settings import Settings
from app.spark.transform import transaction_config
from deploy.local.stack.broker import Broker
from deploy.local.stack.clients import committed, consume_all, end_offsets, produce
from deploy.local.stack.procs import REPO
from test.helpers.jobs import job_env
from test.helpers.oidc import AUDIENCE, IdentityProvider
from test.helpers.streams import Tail, keyed_records

pytestmark = pytest.mark.reliability
# Below the ephemeral range (32768-60999).
# PLAINTEXT (the script's readiness check, admin), +1 controller, +2 SASL_PLAINTEXT, +3 SASL_SSL, +4 SSL with client
# certificates required (mTLS), +5 SASL_PLAINTEXT with OAUTHBEARER (tokens from a local OIDC provider).
PORT = 29296


@dataclass(frozen=True)
class SecureBroker:
    broker: Broker
    ca_file: Path
    scram_password: str
    plain_password: str
    client_cert: Path
    client_key: Path
    idp: IdentityProvider


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A throwaway CA and a broker certificate for 127.0.0.1; the broker's key and chain in one PEM file."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=reliability-test-ca",
    )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1"
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    keystore = directory / "broker-keystore.pem"
    keystore.write_text((directory / "broker.key").read_text() + (directory / "broker.crt").read_text())
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=svc-ner"
    )
    openssl(
        "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-out", "client.crt", "-days", "2"
    )
    return directory / "ca.pem", keystore


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory) -> Iterator[SecureBroker]:
    directory = tmp_path_factory.mktemp("secure-broker")
    ca_file, keystore = make_certificates(directory)
    scram_password, plain_password = f"scram-{secrets.token_hex(8)}", f"plain-{secrets.token_hex(8)}"
    idp = IdentityProvider("svc-ner", f"oidc-{secrets.token_hex(8)}")
    extra = directory / "extra.properties"
    extra.write_text(f"""
listeners=PLAINTEXT://127.0.0.1:{PORT},CONTROLLER://127.0.0.1:{PORT + 1},SASL_PLAINTEXT://127.0.0.1:{PORT + 2},\
SASL_SSL://127.0.0.1:{PORT + 3},SSL://127.0.0.1:{PORT + 4},OAUTH://127.0.0.1:{PORT + 5}
advertised.listeners=PLAINTEXT://127.0.0.1:{PORT},SASL_PLAINTEXT://127.0.0.1:{PORT + 2},\
SASL_SSL://127.0.0.1:{PORT + 3},SSL://127.0.0.1:{PORT + 4},OAUTH://127.0.0.1:{PORT + 5}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,\
SASL_SSL:SASL_SSL,SSL:SSL,OAUTH:SASL_PLAINTEXT
listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oauth.oauthbearer.sasl.jaas.config=\
org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
listener.name.oauth.oauthbearer.sasl.server.callback.handler.class=\
org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
sasl.oauthbearer.jwks.endpoint.url={idp.url}/jwks
sasl.oauthbearer.expected.audience={AUDIENCE}
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location={keystore}
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location={ca_file}
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=\
org.apache.kafka.common.security.plain.PlainLoginModule required user_svc-plain="{plain_password}";
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location={keystore}
""")
    broker = Broker(
        REPO / ".local" / "rel-security",
        port=PORT,
        controller_port=PORT + 1,
        extra_properties=extra,
        # Kafka 4 fetches the JWKS only from URLs this property allows.
        jvm_options=(f"-D{OAUTH_ALLOWED_URLS_PROPERTY}={idp.url}/jwks",),
    )
    broker.reset()
    broker.start()
    try:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            errors = admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion("svc-scram", "SCRAM-SHA-512", scram_password)]
            )
            assert not any(errors.values()), errors
        finally:
            admin.close()
        yield SecureBroker(
            broker,
            ca_file,
            scram_password,
            plain_password,
            ca_file.with_name("client.crt"),
            ca_file.with_name("client.key"),
            idp,
        )
    finally:
        broker.stop()
        idp.close()


def listener_env(secure: SecureBroker, protocol: str, wrong_password: bool = False) -> dict[str, str]:
    """The client settings for one of the broker's SASL listeners: SCRAM-SHA-512 on SASL_PLAINTEXT, PLAIN on
    SASL_SSL (which also needs the CA)."""
    tls = protocol == "SASL_SSL"
    port, mechanism, user, password = (
        (PORT + 3, "PLAIN", "svc-plain", secure.plain_password)
        if tls
        else (PORT + 2, "SCRAM-SHA-512", "svc-scram", secure.scram_password)
    )
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "KAFKA_SECURITY_PROTOCOL": protocol,
        "KAFKA_SASL_MECHANISM": mechanism,
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD": password[::-1] if wrong_password else password,
    }
    if tls:
        env["KAFKA_SSL_CA_LOCATION"] = str(secure.ca_file)
    return env


def create_topics(bootstrap: str, name: str) -> tuple[str, str, str]:
    topics = (f"{name}-in", f"{name}-result", f"{name}-dead")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(t, 1, 1) for t in topics])
    finally:
        admin.close()
    return topics


def files_containing(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n[:6]}..." for n in needles if n.encode() in data]
    return found


def run_secured(secure: SecureBroker, security: dict[str, str], name: str, corpus, jobs, tmp_path: Path) -> int:
    """Run the job over a secured listener to the end of 200 messages, with Spark's event log on; checks every
    result and the group's commits arrived, and returns how many files it wrote (for the leak check)."""
    plain = secure.broker.bootstrap
    topics = create_topics(plain, f"secure-{name}-{secrets.token_hex(4)}")
    records = keyed_records(corpus, 200, prefix=name)
    produce(plain, topics[0], records)
    env = job_env(
        security["KAFKA_BOOTSTRAP_SERVERS"],
        topics,
        tmp_path / "ckpt",
        TRIGGER_INTERVAL="available-now",
        **{k: v for k, v in security.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
    )
    events = tmp_path / "spark-events"
    events.mkdir()
    # Spark's event log holds the environment (the UI's config page) and every progress event.
    # Uncompressed (Spark 4 compresses it by default), or the search below would find nothing in it.
    env["PYSPARK_SUBMIT_ARGS"] = (
        f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://{events} "
        "--conf spark.eventLog.compress=false pyspark-shell"
    )
    job = jobs(env)
    assert job.proc.wait(timeout=600) == 0, job.log()
    event_log = "".join(p.read_text(errors="replace") for p in events.rglob("*") if p.is_file())
    assert "SparkListenerEnvironmentUpdate" in event_log and "QueryProgressEvent" in event_log

    tail = Tail(plain, topics[1], topics[2])
    tail.wait_until(lambda: tail.poll(0) >= len(records), 60, "every result")
    tail.close()
    assert set(tail.uuids()) == {k.decode() for k, _ in records}
    # The offsets committer authenticated too: the group holds the topic's end.
    assert committed(plain, env["KAFKA_CONSUMER_GROUP"]) == end_offsets(plain, topics[0])
    return sum(1 for p in tmp_path.rglob("*") if p.is_file())


@pytest.mark.timeout(900)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_job_over_a_secured_listener_leaks_no_secret(secure_broker, protocol, corpus, jobs, tmp_path):
    name = protocol.lower().replace("_", "-")
    files = run_secured(secure_broker, listener_env(secure_broker, protocol), name, corpus, jobs, tmp_path)
    leaks = files_containing(tmp_path, [secure_broker.scram_password, secure_broker.plain_password])
    print(f"\nRELIABILITY security {protocol}: messages=200 lost=0 files_checked={files} leaks={len(leaks)}")
    assert not leaks, leaks


def mtls_env(secure: SecureBroker, key_as: str | None) -> dict[str, str]:
    """The SSL listener that requires a client certificate: the key from its file, as PEM text, or none."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{PORT + 4}",
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CA_LOCATION": str(secure.ca_file),
    }
    if key_as == "file":
        env |= {"KAFKA_SSL_CERT_LOCATION": str(secure.client_cert), "KAFKA_SSL_KEY_LOCATION": str(secure.client_key)}
    elif key_as == "pem":
        env |= {"KAFKA_SSL_CERT_LOCATION": str(secure.client_cert), "KAFKA_SSL_KEY_PEM": secure.client_key.read_text()}
    return env


@pytest.mark.timeout(900)
@pytest.mark.parametrize("key_as", ["file", "pem"])
def test_job_over_mutual_tls_leaks_no_private_key(secure_broker, key_as, corpus, jobs, tmp_path):
    files = run_secured(secure_broker, mtls_env(secure_broker, key_as), f"mtls-{key_as}", corpus, jobs, tmp_path)
    # Lines of the key's base64 body: any one of them in a log, event log or checkpoint is a leak.
    body = [line for line in secure_broker.client_key.read_text().splitlines() if "-----" not in line]
    leaks = files_containing(tmp_path, body[1:4])
    print(f"\nRELIABILITY security mTLS key={key_as}: messages=200 lost=0 files_checked={files} leaks={len(leaks)}")
    assert not leaks, leaks


def refused_start(secure: SecureBroker, security: dict[str, str], jobs, tmp_path: Path) -> str:
    """Start the job with settings the broker refuses: it must exit 1 (before Spark runs a batch); its log."""
    topics = create_topics(secure.broker.bootstrap, f"refused-{secrets.token_hex(4)}")
    env = job_env(
        security["KAFKA_BOOTSTRAP_SERVERS"],
        topics,
        tmp_path / "ckpt",
        **{k: v for k, v in security.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
    )
    job = jobs(env)
    assert job.proc.wait(timeout=120) == 1, job.log()
    return job.log_path.read_text(errors="replace")


@pytest.mark.timeout(300)
def test_mutual_tls_without_a_client_certificate_fails_fast(secure_broker, jobs, tmp_path):
    assert "start-up check failed" in refused_start(secure_broker, mtls_env(secure_broker, None), jobs, tmp_path)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_wrong_password_fails_fast_with_a_clear_message(secure_broker, protocol, jobs, tmp_path):
    security = listener_env(secure_broker, protocol, wrong_password=True)
    log = refused_start(secure_broker, security, jobs, tmp_path)
    assert "start-up check failed" in log, log[-3000:]
    assert f"KAFKA_SASL_USERNAME={security['KAFKA_SASL_USERNAME']}" in log
    assert "KAFKA_BOOTSTRAP_SERVERS=" + security["KAFKA_BOOTSTRAP_SERVERS"] in log
    assert security["KAFKA_SASL_PASSWORD"] not in log
    assert "started SparkSession" not in log  # it failed before Spark


def oauth_env(secure: SecureBroker, secret: str | None = None) -> dict[str, str]:
    """The OAUTHBEARER listener: the OIDC client's id and secret, the provider's token endpoint."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{PORT + 5}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
        "KAFKA_SASL_USERNAME": secure.idp.client_id,
        "KAFKA_SASL_PASSWORD": secret or secure.idp.client_secret,
        "KAFKA_SASL_OAUTH_TOKEN_URL": f"{secure.idp.url}/token",
        "KAFKA_SASL_OAUTH_SCOPE": "kafka",
    }


@pytest.mark.timeout(900)
def test_job_over_oauthbearer_with_client_credentials_leaks_no_secret(secure_broker, corpus, jobs, tmp_path):
    issued = secure_broker.idp.issued
    files = run_secured(secure_broker, oauth_env(secure_broker), "oauth", corpus, jobs, tmp_path)
    # Spark's Java clients and the driver's kafka-python clients (start-up check, committer) each got tokens.
    assert secure_broker.idp.issued - issued >= 2
    leaks = files_containing(tmp_path, [secure_broker.idp.client_secret])
    print(f"\nRELIABILITY security OAUTHBEARER: messages=200 lost=0 files_checked={files} leaks={len(leaks)}")
    assert not leaks, leaks


@pytest.mark.timeout(300)
def test_oauthbearer_with_a_wrong_client_secret_fails_fast(secure_broker, jobs, tmp_path):
    security = oauth_env(secure_broker, secret=f"wrong-{secrets.token_hex(8)}")
    refused = secure_broker.idp.refused
    log = refused_start(secure_broker, security, jobs, tmp_path)
    assert "start-up check failed" in log and "KAFKA_SASL_OAUTH_TOKEN_URL" in log, log[-3000:]
    assert security["KAFKA_SASL_PASSWORD"] not in log and secure_broker.idp.refused > refused


@pytest.mark.timeout(300)
@pytest.mark.parametrize("listener", ["SASL_PLAINTEXT", "SASL_SSL", "mTLS", "OAUTHBEARER"])
def test_exactly_once_writers_connect_over_every_secured_listener(secure_broker, listener):
    """OUTPUT_GUARANTEE=exactly-once: the Python workers' transactional producers (librdkafka) and their committed
    offset reads use the same settings as Spark's clients, over every listener the job supports."""
    security = {
        "SASL_PLAINTEXT": lambda: listener_env(secure_broker, "SASL_PLAINTEXT"),
        "SASL_SSL": lambda: listener_env(secure_broker, "SASL_SSL"),
        "mTLS": lambda: mtls_env(secure_broker, "pem"),
        "OAUTHBEARER": lambda: oauth_env(secure_broker),
    }[listener]()
    plain = secure_broker.broker.bootstrap
    source, result, dead = create_topics(plain, f"secure-eos-{listener.lower()}-{secrets.token_hex(4)}")
    topics = {"INPUT_TOPIC": source, "RESULT_TOPIC": result, "DEAD_LETTER_TOPIC": dead}
    s = Settings.load({**security, **topics, "OUTPUT_GUARANTEE": "exactly-once", "KAFKA_CONSUMER_GROUP": f"g-{source}"})
    budget = record_budget(s)  # the start-up check, over the same listener
    assert budget is not None
    config = transaction_config(s, budget)
    writer = PartitionWriter(config, source, 0)
    writer.write([(n, Annotated(n != 1, f"k{n}".encode(), f"v{n}".encode(), None, "en")) for n in range(3)])
    writer.close()
    assert sorted(r.value for r in consume_all(plain, result, expected_count=2)) == [b"v0", b"v2"]
    assert [r.value for r in consume_all(plain, dead, expected_count=1)] == [b"v1"]
    assert committed(plain, config.group) == {(source, 0): 3}
    replay = PartitionWriter(config, source, 0)  # a replayed slice reads the committed offset over the listener too
    assert replay.written_until == 3
    replay.close()
