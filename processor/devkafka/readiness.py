"""Wait until a broker answers a metadata request."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from processor.devkafka.errors import DevKafkaError
from processor.devkafka.net import port_open, split_address

POLL_SECONDS = 0.2


def metadata_ok(bootstrap_servers: str, timeout: float = 5.0) -> bool:
    """True if an AdminClient's ``list_topics`` succeeds and names at least one broker."""
    # log_level 0: failed probes are expected while the broker starts; keep stderr quiet.
    with AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0,
                      "socket.connection.setup.timeout.ms": 2000}) as admin:
        try:
            metadata = admin.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return bool(metadata.brokers)


def wait_until_ready(bootstrap_servers: str, timeout: float, *,
                     alive: Callable[[], bool] | None = None,
                     on_failure: Callable[[str], str] | None = None) -> float:
    """Block until the broker at ``bootstrap_servers`` answers; the seconds waited.

    Probes the TCP port first (so librdkafka does not log refused connections), then asks
    for metadata. ``alive`` is checked on each round: when it turns false the wait stops at
    once. On failure raises DevKafkaError with ``on_failure(reason)`` as its message if given.
    """
    started = time.monotonic()
    deadline = started + timeout
    host, port = split_address(bootstrap_servers)
    while True:
        if alive is not None and not alive():
            reason = f"the broker exited before it was ready ({bootstrap_servers})"
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = f"the broker at {bootstrap_servers} was not ready within {timeout:.0f} s"
            break
        if port_open(host, port, timeout=min(1.0, remaining)) and metadata_ok(
                bootstrap_servers, timeout=max(0.5, min(2.0, remaining))):
            return time.monotonic() - started
        time.sleep(POLL_SECONDS)
    raise DevKafkaError(on_failure(reason) if on_failure else reason)
