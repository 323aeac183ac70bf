"""One Kafka for tests and demos: the first of

1. ``KAFKA_BOOTSTRAP_SERVERS``, if set (always wins; it must answer);
2. an ``apache/kafka`` container, if a Docker engine answers a ping and testcontainers is
   installed;
3. ``LocalKafka`` from the Maven jars (Java 17+ and Maven needed the first time).

``AOR_KAFKA_PROVIDER`` (``env``, ``docker`` or ``local``) forces a choice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from processor.devkafka.broker import DEFAULT_START_TIMEOUT, LocalKafka
from processor.devkafka.container import kafka_container, testcontainers_installed
from processor.devkafka.docker_engine import docker_engine_answers
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.readiness import wait_until_ready

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
PROVIDER_ENV = "AOR_KAFKA_PROVIDER"


class KafkaSource(StrEnum):
    ENV = "env"
    DOCKER = "docker"
    LOCAL = "local"


@dataclass(frozen=True)
class ProvidedKafka:
    """A broker to use: its address, where it came from, and the local broker if any
    (for tests that restart or kill it)."""

    bootstrap_servers: str
    source: KafkaSource
    local: LocalKafka | None = None


def choose_source(env: Mapping[str, str] | None = None) -> KafkaSource:
    """Which broker ``provide_kafka`` would use, without starting anything."""
    env = os.environ if env is None else env
    forced = env.get(PROVIDER_ENV, "").strip().lower()
    if forced:
        try:
            return KafkaSource(forced)
        except ValueError:
            raise DevKafkaError(f"{PROVIDER_ENV}={forced!r}: expected one of "
                                f"{', '.join(s.value for s in KafkaSource)}") from None
    if env.get(BOOTSTRAP_ENV, "").strip():
        return KafkaSource.ENV
    if testcontainers_installed() and docker_engine_answers(env):
        return KafkaSource.DOCKER
    return KafkaSource.LOCAL


@contextmanager
def provide_kafka(data_dir: Path | None = None, *,
                  env: Mapping[str, str] | None = None,
                  start_timeout: float = DEFAULT_START_TIMEOUT) -> Iterator[ProvidedKafka]:
    """A ready broker for the duration of the ``with`` block; one that was started here is
    stopped at the end. ``data_dir`` is the local broker's data folder (default: a
    temporary folder, removed at the end)."""
    env = os.environ if env is None else env
    source = choose_source(env)
    if source is KafkaSource.ENV:
        bootstrap = env.get(BOOTSTRAP_ENV, "").strip()
        if not bootstrap:
            raise DevKafkaError(f"{PROVIDER_ENV}=env but {BOOTSTRAP_ENV} is not set")
        wait_until_ready(bootstrap, start_timeout, on_failure=lambda reason: (
            f"{BOOTSTRAP_ENV}={bootstrap}: {reason}"))
        yield ProvidedKafka(bootstrap, source)
    elif source is KafkaSource.DOCKER:
        with kafka_container(start_timeout=max(start_timeout, 120.0)) as bootstrap:
            yield ProvidedKafka(bootstrap, source)
    else:
        with LocalKafka(data_dir, start_timeout=start_timeout) as kafka:
            yield ProvidedKafka(kafka.bootstrap_servers, source, kafka)


@contextmanager
def bootstrap_servers(data_dir: Path | None = None, *,
                      env: Mapping[str, str] | None = None,
                      start_timeout: float = DEFAULT_START_TIMEOUT) -> Iterator[str]:
    """``provide_kafka`` yielding just the bootstrap address."""
    with provide_kafka(data_dir, env=env, start_timeout=start_timeout) as kafka:
        yield kafka.bootstrap_servers
