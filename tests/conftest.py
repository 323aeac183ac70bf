"""Fixtures for tests against a real Kafka broker (``@pytest.mark.kafka``).

One broker per test session, from ``processor.devkafka.provider``:
``KAFKA_BOOTSTRAP_SERVERS`` if set, else an apache/kafka container where a Docker engine
answers and testcontainers is installed, else a local broker from the Maven jars (needs
Java 17+, and Maven the first time). It is started by the first test that asks for it
and stopped when the session ends.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from processor.devkafka.provider import ProvidedKafka, provide_kafka

_ILLEGAL_TOPIC_CHARS = re.compile(r"[^a-zA-Z0-9._-]+")
_STARTED: pytest.StashKey[str] = pytest.StashKey()


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvidedKafka]:
    """The session's broker; ``.local`` is the ``LocalKafka`` when one was started here
    (for tests that restart or kill it), else None."""
    began = time.monotonic()
    with provide_kafka(tmp_path_factory.mktemp("kafka")) as kafka:
        request.config.stash[_STARTED] = (
            f"kafka: {kafka.source.value} broker at {kafka.bootstrap_servers}, ready in "
            f"{time.monotonic() - began:.1f} s"
            + (f", log {kafka.local.log_file}" if kafka.local is not None else ""))
        yield kafka


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: ProvidedKafka) -> str:
    """The session broker's bootstrap address (``host:port``)."""
    return kafka_broker.bootstrap_servers


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make topic names unique to this test and this run: ``unique_topic("input")`` ->
    ``test_name-input-1-3f2a9c1e``; the broker is shared by the whole session."""
    base = _ILLEGAL_TOPIC_CHARS.sub("-", request.node.name)[:150]
    token = uuid.uuid4().hex[:8]
    counter = itertools.count(1)

    def make(label: str = "topic") -> str:
        safe = _ILLEGAL_TOPIC_CHARS.sub("-", label)[:60]
        return f"{base}-{safe}-{next(counter)}-{token}"

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = terminalreporter.config.stash.get(_STARTED, None)
    if line is not None:
        terminalreporter.write_line(line)
