"""Failing fast when the broker refuses this client's credentials or TLS handshake.

librdkafka treats a failed SASL authentication or TLS handshake like any broken
connection: it logs it, reports it to an ``error_cb`` if there is one, and retries for
ever, so a request made with a wrong password only times out, much later, with "Broker
transport failure". ``verify_access`` asks for metadata and watches the client's errors
instead, and raises ``KafkaSecurityError`` with librdkafka's reason as soon as one comes;
``SecurityWatch`` is that ``error_cb``, for long-running clients too.

No secret reaches a message: librdkafka's error strings name the listener, mechanism
and reason, never the password, and ``settings`` gives only the user name.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from processor.config import Settings

if TYPE_CHECKING:
    from confluent_kafka import KafkaError

# librdkafka's local error codes (KafkaError._AUTHENTICATION, KafkaError._SSL): kept as
# numbers so that importing this module (the composition root does) loads no client.
AUTHENTICATION = -169
TLS = -181
PLAINTEXT = "PLAINTEXT"


class KafkaSecurityError(RuntimeError):
    """The broker refused the credentials, or the TLS handshake failed: retrying with the
    same settings cannot help."""


class SecurityWatch:
    """An ``error_cb`` that remembers the first error of the given codes.

    The runtime watches ``AUTHENTICATION`` only: a TLS error in the middle of a run may
    come from a broker going down mid-handshake; at start-up both are final.
    """

    def __init__(self, codes: frozenset[int] = frozenset({AUTHENTICATION, TLS})) -> None:
        self.codes = codes
        self.failure: KafkaError | None = None

    def __call__(self, error: KafkaError) -> None:
        if self.failure is None and error.code() in self.codes:
            self.failure = error

    def raise_if_failed(self, settings: Settings) -> None:
        if self.failure is not None:
            raise security_error(settings, self.failure)


def security_error(settings: Settings, error: KafkaError) -> KafkaSecurityError:
    """One line for an operator: what failed, where, as whom, librdkafka's reason and
    which settings to check."""
    from processor.kafka.clients import client_config

    who = [client_config(settings).get("security.protocol") or PLAINTEXT]
    if settings.sasl_mechanism:
        who.append(settings.sasl_mechanism)
    if settings.sasl_username:
        who.append(f"user {settings.sasl_username!r}")
    if error.code() == AUTHENTICATION:
        what, check = "authentication failed", "AOR_SASL_MECHANISM, AOR_SASL_USERNAME and " \
                                               "AOR_SASL_PASSWORD"
    else:
        what, check = "TLS handshake failed", "AOR_SSL_CA_LOCATION (and the broker's " \
                                              "certificate)"
    reason = " ".join(str(error.str()).split())
    return KafkaSecurityError(f"Kafka {what} at {settings.bootstrap_servers} "
                              f"({', '.join(who)}): {reason}; check {check}")


def secured(settings: Settings) -> bool:
    """Are SASL or TLS configured (anything but plaintext), by AOR_SECURITY_PROTOCOL or
    AOR_KAFKA_EXTRA?"""
    from processor.kafka.clients import client_config

    protocol = client_config(settings).get("security.protocol") or PLAINTEXT
    return protocol.upper() != PLAINTEXT


def verify_access(settings: Settings, timeout: float = 30.0) -> None:
    """With SASL or TLS configured: return once the broker answers a metadata request,
    raise ``KafkaSecurityError`` as soon as it refuses the credentials or the TLS
    handshake fails (usually within a second). Any other trouble (an unreachable broker)
    is left to the caller's own requests after ``timeout``. Without SASL or TLS, return
    at once: there is nothing to verify."""
    if not secured(settings):
        return
    from confluent_kafka import KafkaException

    from processor.kafka.clients import admin

    watch = SecurityWatch()
    client: Any = admin(settings, watch)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_topics(timeout=1.0)
            return
        except KafkaException:
            pass
        client.poll(0.1)  # serves error_cb
        watch.raise_if_failed(settings)
        if time.monotonic() >= deadline:
            return
