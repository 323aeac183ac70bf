"""A broker in an ``apache/kafka`` container through testcontainers, where Docker answers.

testcontainers is optional: it is imported only here, only when called, and only if
installed. Its ``KafkaContainer`` targets Confluent images, so this uses a generic
``DockerContainer`` configured by the image's ``KAFKA_*`` variables.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from processor.devkafka.config import container_env, new_cluster_id
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.net import free_port
from processor.devkafka.readiness import wait_until_ready
from processor.devkafka.versions import KAFKA_VERSION

IMAGE = f"apache/kafka:{KAFKA_VERSION}"
CONTAINER_PORT = 9092


def testcontainers_installed() -> bool:
    return importlib.util.find_spec("testcontainers") is not None


@contextmanager
def kafka_container(image: str = IMAGE, *, start_timeout: float = 120.0,
                    extra_properties: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start ``image``, yield its bootstrap address once it answers, remove it at exit.

    The container's PLAINTEXT port is bound to a free host port picked here, because the
    broker must advertise the address that clients outside the container use.
    """
    if not testcontainers_installed():
        raise DevKafkaError("testcontainers is not installed (pip install testcontainers)")
    module: Any = importlib.import_module("testcontainers.core.container")
    container: Any = module.DockerContainer(image)
    host = str(container.get_docker_client().host())
    port = free_port()
    bootstrap = f"{host}:{port}"
    for key, value in container_env(bootstrap, extra=extra_properties).items():
        container.with_env(key, value)
    container.with_env("CLUSTER_ID", new_cluster_id())
    container.with_bind_ports(CONTAINER_PORT, port)
    try:
        container.start()
        wait_until_ready(bootstrap, start_timeout, on_failure=lambda reason: (
            f"{reason}; container logs:\n{_logs(container)}"))
        yield bootstrap
    finally:
        container.stop()


def _logs(container: Any) -> str:
    try:
        stdout, stderr = container.get_logs()
        text = (bytes(stdout) + bytes(stderr)).decode(errors="replace")
    except Exception as error:  # diagnostics only: never hide the original failure
        return f"(no logs: {error})"
    return "\n".join(text.splitlines()[-40:])
