"""The processor over SASL/SCRAM-SHA-512 on TLS (a broker of its own, with a throwaway
CA: ``processor.devkafka.secure``) and an authorizer.

- With the right credentials and only the ACLs ``topics acls`` lists
  (``processor/kafka/acls.py``: an instance principal for ``run``, an operator principal
  for ``topics create``, ``load`` and ``dump``), the whole cycle works over the SASL_SSL
  listener and the outputs equal the file replay; what no ACL allows is refused.
- With a wrong password, every command fails in seconds with one clear line naming the
  authentication failure (librdkafka alone would retry until a 30 s request timeout and
  then say "Broker transport failure"); with a CA that did not sign the broker's
  certificate, it names the TLS handshake.
- Over the whole run's logs (``--log-level DEBUG``), what every command printed and a
  ``/metrics`` scrape during the run: neither the password nor any member id of the
  loaded history appears.

Skipped, with the reason, when this machine cannot start a broker with a TLS listener
(no Java, no Kafka jars, no ``openssl``); ``AOR_REQUIRE_SECURE_KAFKA=1`` makes that a
failure instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from processor.devkafka.errors import DevKafkaError
from processor.devkafka.net import free_port
from processor.devkafka.secure import (
    SCRAM_MECHANISM,
    SecureLocalKafka,
    add_scram_user,
    make_tls,
)
from processor.kafka.acls import Grant, instance_grants, operator_grants
from tests.http_probe import get
from tests.integration.harness import Deployment, assert_same_outputs, generate, replay

pytestmark = pytest.mark.kafka

# Distinctive, so that a leak anywhere is found by a substring search.
PASSWORD = f"aor-{secrets.token_hex(12)}"
WRONG_PASSWORD = f"not-{secrets.token_hex(12)}"
USERNAME = "aor-processor"  # the instances' principal
OPERATOR = "aor-operator"  # the operator tools' principal
OPERATOR_PASSWORD = f"op-{secrets.token_hex(12)}"
FAIL_FAST_S = 30.0
MEMBER_ID = re.compile(r"mbr-\d{7}")


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureLocalKafka]:
    broker = SecureLocalKafka(tmp_path_factory.mktemp("secure-kafka"), username=USERNAME,
                              password=PASSWORD, authorizer=True)
    began = time.monotonic()
    try:
        broker.start()
        add_scram_user(broker.bootstrap_servers, OPERATOR, OPERATOR_PASSWORD)
    except DevKafkaError as error:
        broker.stop()
        if os.environ.get("AOR_REQUIRE_SECURE_KAFKA") == "1":
            raise
        pytest.skip(f"cannot start a Kafka broker with a SASL_SSL listener here: {error}")
    print(f"SASL_SSL broker at {broker.secure_bootstrap_servers}, ready in "
          f"{time.monotonic() - began:.1f} s")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 150, seed=73)


@pytest.fixture(scope="module")
def replayed(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(history, tmp_path_factory.mktemp("replayed"))


def security_env(broker: SecureLocalKafka, password: str = PASSWORD,
                 ca: Path | None = None, username: str = USERNAME) -> dict[str, str]:
    return {"AOR_SECURITY_PROTOCOL": "SASL_SSL", "AOR_SASL_MECHANISM": SCRAM_MECHANISM,
            "AOR_SASL_USERNAME": username, "AOR_SASL_PASSWORD": password,
            "AOR_SSL_CA_LOCATION": str(ca or broker.ca_location)}


_RESOURCES = {"TOPIC": ResourceType.TOPIC, "GROUP": ResourceType.GROUP,
              "TRANSACTIONAL_ID": ResourceType.TRANSACTIONAL_ID,
              "CLUSTER": ResourceType.BROKER}


def grant(broker: SecureLocalKafka, principal: str, grants: tuple[Grant, ...]) -> None:
    """The ACLs, created by the super user over the PLAINTEXT listener."""
    bindings = [AclBinding(_RESOURCES[g.resource], g.name,
                           ResourcePatternType.PREFIXED if g.prefixed
                           else ResourcePatternType.LITERAL,
                           principal, "*", AclOperation[operation], AclPermissionType.ALLOW)
                for g in grants for operation in g.operations]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_acls(bindings, request_timeout=30).values():
        future.result(30)


@dataclass
class Transcript:
    """Everything the commands printed, for the leak checks."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        self.texts[name] = text


def cli(app: Deployment, transcript: Transcript, *args: str | Path, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "processor", "--log-level", "DEBUG",
                           *map(str, args)], check=False, capture_output=True, text=True,
                          env=app.env, timeout=timeout)
    transcript.add(" ".join(map(str, args[:2])), done.stdout + done.stderr)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def member_ids(history: Path) -> set[str]:
    ids: set[str] = set()
    for name in ("enrollments.jsonl", "plan-changes.jsonl"):
        for line in (history / name).read_text().splitlines():
            ids.add(json.loads(line)["member_id"])
    return ids


def test_over_sasl_ssl_the_run_equals_the_replay_and_no_secret_or_member_id_leaks(
        secure_kafka: SecureLocalKafka, history: Path, replayed: Path, tmp_path: Path
        ) -> None:
    port = free_port()
    app = Deployment(secure_kafka.secure_bootstrap_servers,
                     extra_env={**security_env(secure_kafka), "AOR_METRICS_PORT": str(port)})
    tools = Deployment(secure_kafka.secure_bootstrap_servers, name=app.name,
                       extra_env=security_env(secure_kafka, OPERATOR_PASSWORD,
                                              username=OPERATOR))
    grant(secure_kafka, f"User:{USERNAME}", instance_grants(app.settings()))
    grant(secure_kafka, f"User:{OPERATOR}", operator_grants(app.settings()))
    transcript = Transcript()
    cli(tools, transcript, "topics", "create")
    cli(tools, transcript, "load", "--input", history)
    # The authorizer is on: what no ACL allows an instance is refused.
    instance = AdminClient(dict(secure_kafka.client_properties()))
    with pytest.raises(KafkaException, match="TOPIC_AUTHORIZATION_FAILED"):
        for future in instance.create_topics([NewTopic(f"{app.name}.not-allowed", 1, 1)],
                                             request_timeout=30).values():
            future.result(30)

    log = tmp_path / "run.log"
    good = sum(1 for name in ("enrollments.jsonl", "plan-changes.jsonl")
               for _ in (history / name).open())
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "processor", "--log-level", "DEBUG", "run",
             "--until-idle", "5"], env=app.env, stdout=out, stderr=subprocess.STDOUT)
    metrics = ""
    try:
        while process.poll() is None:  # scrape while it runs; keep the last full scrape
            status, body = get(port, "/metrics", timeout=2)
            if status == 200 and 'aor_decisions_total{outcome="' in body:
                metrics = body
            time.sleep(0.25)
        assert process.wait(300) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    transcript.add("run", log.read_text())
    transcript.add("/metrics", metrics)
    assert metrics, "no /metrics scrape with decisions during the run"
    decided = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("aor_decisions_total{"))
    assert decided > 0

    dumped = tmp_path / "dump"
    cli(tools, transcript, "dump", "--output", dumped)
    assert_same_outputs(dumped, replayed)
    assert f"{good:,} decisions" in transcript.texts["run"], transcript.texts["run"][-2000:]

    events = [json.loads(line) for line in transcript.texts["run"].splitlines()
              if line.startswith("{")]
    assert {"run.started", "agent_table.bootstrapped", "run.finished"} <= {
        e["event"] for e in events}
    ids = member_ids(history)
    for name, text in transcript.texts.items():
        assert PASSWORD not in text, f"the password appears in {name}"
        assert OPERATOR_PASSWORD not in text, f"the operator's password appears in {name}"
        leaked = set(MEMBER_ID.findall(text)) & ids
        assert not leaked, f"{name} shows member ids {sorted(leaked)[:5]}"


@dataclass(frozen=True)
class Failure:
    seconds: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def own_lines(self) -> list[str]:
        """The processor's own lines (librdkafka logs its retries as %3|... lines)."""
        return [line for line in self.stderr.splitlines() if line.startswith("aor-processor")]


def attempt(app: Deployment, *args: str | Path) -> Failure:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "processor", "--log-level", "DEBUG",
                           *map(str, args)], check=False, capture_output=True, text=True,
                          env=app.env, timeout=120)
    return Failure(time.monotonic() - started, done.returncode, done.stdout, done.stderr)


def test_a_wrong_password_fails_fast_with_one_clear_line(
        secure_kafka: SecureLocalKafka, history: Path, tmp_path: Path) -> None:
    app = Deployment(secure_kafka.secure_bootstrap_servers,
                     extra_env=security_env(secure_kafka, WRONG_PASSWORD))
    for args in (("topics", "create"), ("run", "--until-idle", "3"),
                 ("load", "--input", history), ("dump", "--output", tmp_path / "dump")):
        failure = attempt(app, *args)
        command = " ".join(map(str, args[:2]))
        assert failure.returncode != 0, f"{command} succeeded with a wrong password"
        assert failure.seconds < FAIL_FAST_S, f"{command} took {failure.seconds:.1f} s"
        assert "Traceback" not in failure.stderr, failure.stderr[-3000:]
        [line] = failure.own_lines
        assert line.startswith(f"aor-processor {args[0]}: error: Kafka authentication "
                               f"failed at {secure_kafka.secure_bootstrap_servers}"), line
        assert f"user '{USERNAME}'" in line and "AOR_SASL_PASSWORD" in line, line
        assert "invalid credentials" in line, line
        text = failure.stdout + failure.stderr
        assert WRONG_PASSWORD not in text and PASSWORD not in text


def test_an_untrusted_broker_certificate_fails_fast_naming_tls(
        secure_kafka: SecureLocalKafka, tmp_path: Path) -> None:
    other_ca = make_tls(tmp_path / "other-ca").ca_certificate  # did not sign the broker
    app = Deployment(secure_kafka.secure_bootstrap_servers,
                     extra_env=security_env(secure_kafka, ca=other_ca))
    failure = attempt(app, "topics", "create")
    assert failure.returncode != 0 and failure.seconds < FAIL_FAST_S
    [line] = failure.own_lines
    assert "Kafka TLS handshake failed" in line and "AOR_SSL_CA_LOCATION" in line, line
    assert "certificate verify failed" in line, line
    assert PASSWORD not in failure.stdout + failure.stderr
