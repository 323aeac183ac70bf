"""A ``LocalKafka`` with a SASL_SSL listener: SCRAM-SHA-512 over TLS, for tests and
demos of the processor's security settings.

- ``make_tls``: a throwaway certificate authority and a broker certificate for
  127.0.0.1 / localhost, made with the ``openssl`` command (Debian and most systems have
  it): ``ca.pem`` for clients (``ssl.ca.location``) and ``broker-keystore.pem`` for the
  broker (a PEM keystore: its PKCS#8 key, its certificate and the CA).
- ``sasl_ssl_properties``: the broker properties of three listeners: ``PLAINTEXT``
  (inter-broker traffic, readiness and administration, on 127.0.0.1), ``CONTROLLER``,
  and ``SASL_SSL`` with SCRAM-SHA-512 only.
- ``add_scram_user``: a SCRAM-SHA-512 credential, created over the PLAINTEXT listener
  (KRaft keeps it in the metadata log; AdminClient.alter_user_scram_credentials).
- ``SecureLocalKafka``: all of it, started and stopped as one.

Nothing here is meant for production: the key is unencrypted and the CA is thrown away.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processor.devkafka.broker import LocalKafka
from processor.devkafka.config import LOOPBACK
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.lifecycle import StartStop
from processor.devkafka.net import free_port

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 4096
SECURE_LISTENER = "SASL_SSL"
CERT_DAYS = 2
OPENSSL_TIMEOUT = 60.0
READY_TIMEOUT = 30.0
_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True)
class TlsFiles:
    ca_certificate: Path  # PEM: what clients trust
    keystore: Path  # PEM: the broker's PKCS#8 private key, its certificate, the CA


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(folder: Path, *args: str) -> None:
    try:
        done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True,
                              timeout=OPENSSL_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DevKafkaError(f"openssl {args[0]} could not run: {error}") from error
    if done.returncode != 0:
        raise DevKafkaError(f"openssl {' '.join(args[:2])} failed ({done.returncode}): "
                            f"{(done.stderr or done.stdout).strip()}")


def make_tls(folder: Path, host: str = LOOPBACK, days: int = CERT_DAYS) -> TlsFiles:
    """A new CA and a broker certificate it signed, for ``host`` and localhost."""
    if not openssl_available():
        raise DevKafkaError("the openssl command is needed to make test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", str(days), "-subj", "/CN=aor-processor test CA")
    (folder / "broker.ext").write_text(
        f"subjectAltName=IP:{host},DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        encoding="utf-8")
    _openssl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key.pem",
             "-out", "broker.csr", "-subj", "/CN=localhost")
    _openssl(folder, "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "broker.pem", "-days", str(days),
             "-extfile", "broker.ext")
    # Kafka's PEM keystore wants the key in PKCS#8.
    _openssl(folder, "pkcs8", "-topk8", "-nocrypt", "-in", "broker.key.pem",
             "-out", "broker.pk8.pem")
    keystore = folder / "broker-keystore.pem"
    keystore.write_text("".join((folder / name).read_text(encoding="utf-8")
                                for name in ("broker.pk8.pem", "broker.pem", "ca.pem")),
                        encoding="utf-8")
    keystore.chmod(0o600)
    return TlsFiles(folder / "ca.pem", keystore)


# KRaft's authorizer. The PLAINTEXT and CONTROLLER listeners (the broker's own traffic, and
# the tests' administration) authenticate as ANONYMOUS, which is made a super user; a
# SASL_SSL user may do only what an ACL allows.
AUTHORIZER = {
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "super.users": "User:ANONYMOUS",
    "allow.everyone.if.no.acl.found": "false",
}


def sasl_ssl_properties(port: int, controller_port: int, secure_port: int, tls: TlsFiles,
                        host: str = LOOPBACK, authorizer: bool = False) -> dict[str, str]:
    """``LocalKafka(extra_properties=...)`` for a SASL_SSL listener on ``secure_port``
    next to the PLAINTEXT one on ``port`` (both on ``host``); with ``authorizer``, ACLs
    decide what SASL_SSL users may do."""
    name = SECURE_LISTENER.lower()
    return {
        **(AUTHORIZER if authorizer else {}),
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port},"
                     f"{SECURE_LISTENER}://{host}:{secure_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},"
                                f"{SECURE_LISTENER}://{host}:{secure_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
                                          f"{SECURE_LISTENER}:{SECURE_LISTENER}",
        f"listener.name.{name}.sasl.enabled.mechanisms": SCRAM_MECHANISM,
        f"listener.name.{name}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": _JAAS,
        f"listener.name.{name}.ssl.keystore.type": "PEM",
        f"listener.name.{name}.ssl.keystore.location": str(tls.keystore),
    }


def add_scram_user(bootstrap_servers: str, username: str, password: str,
                   timeout: float = READY_TIMEOUT) -> None:
    """Create or replace a SCRAM-SHA-512 credential, over a PLAINTEXT listener."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in __all__
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    client = AdminClient({"bootstrap.servers": bootstrap_servers})
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    futures = client.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(username, info, password.encode("utf-8"))],
        request_timeout=timeout)
    for future in futures.values():
        future.result(timeout)


def client_properties(bootstrap_servers: str, username: str, password: str,
                      ca_location: Path) -> dict[str, str]:
    """librdkafka properties of a client of the SASL_SSL listener."""
    return {"bootstrap.servers": bootstrap_servers, "security.protocol": SECURE_LISTENER,
            "sasl.mechanism": SCRAM_MECHANISM, "sasl.username": username,
            "sasl.password": password, "ssl.ca.location": str(ca_location)}


def wait_for_login(properties: Mapping[str, str], timeout: float = READY_TIMEOUT) -> None:
    """Until a client with these properties gets metadata (the credential has reached
    the listener); DevKafkaError with librdkafka's reason otherwise."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list[str] = []
    config: Any = {**properties, "log_level": 0, "error_cb": lambda e: errors.append(str(e))}
    client = AdminClient(config)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_topics(timeout=1.0)
            return
        except KafkaException as error:
            errors.append(str(error))
        client.poll(0.1)
        if time.monotonic() >= deadline:
            raise DevKafkaError(f"no login on {properties['bootstrap.servers']} within "
                                f"{timeout:.0f} s: {errors[-1] if errors else 'no answer'}")


class SecureLocalKafka(StartStop):
    """A ``LocalKafka`` with a SASL_SSL (SCRAM-SHA-512 over TLS) listener and one user.

    ``bootstrap_servers`` is the PLAINTEXT listener (administration, tests' own
    clients); ``secure_bootstrap_servers`` the SASL_SSL one, whose certificate
    ``ca_location`` signed.
    """

    def __init__(self, data_dir: Path | None = None, *, username: str = "aor",
                 password: str, start_timeout: float = 60.0, authorizer: bool = False) -> None:
        self._owns_data = data_dir is None
        self.authorizer = authorizer
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="aor-kafka-secure-"))
        self.username = username
        self.password = password
        self.start_timeout = start_timeout
        self.kafka: LocalKafka | None = None
        self.secure_port: int | None = None
        self.tls: TlsFiles | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka is None:
            raise DevKafkaError("the broker is not started")
        return self.kafka.bootstrap_servers

    @property
    def secure_bootstrap_servers(self) -> str:
        if self.secure_port is None:
            raise DevKafkaError("the broker is not started")
        return f"{LOOPBACK}:{self.secure_port}"

    @property
    def ca_location(self) -> Path:
        if self.tls is None:
            raise DevKafkaError("the broker is not started")
        return self.tls.ca_certificate

    def client_properties(self, password: str | None = None) -> dict[str, str]:
        return client_properties(self.secure_bootstrap_servers, self.username,
                                 self.password if password is None else password,
                                 self.ca_location)

    def start(self) -> str:
        """Certificates, broker, user; returns the SASL_SSL bootstrap address."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tls = make_tls(self.data_dir / "tls")
        port, controller, secure = free_port(), free_port(), free_port()
        while len({port, controller, secure}) < 3:
            controller, secure = free_port(), free_port()
        self.secure_port = secure
        self.kafka = LocalKafka(self.data_dir / "broker", port=port, controller_port=controller,
                                start_timeout=self.start_timeout,
                                extra_properties=sasl_ssl_properties(
                                    port, controller, secure, self.tls,
                                    authorizer=self.authorizer))
        self.kafka.start()
        add_scram_user(self.kafka.bootstrap_servers, self.username, self.password)
        wait_for_login(self.client_properties())
        return self.secure_bootstrap_servers

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
            self.kafka = None
        if self._owns_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

