"""The single-node KRaft broker's configuration, as properties, a log4j2 file and the
environment of the apache/kafka container image."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from pathlib import Path

LOOPBACK = "127.0.0.1"
NODE_ID = 1

# One node: every internal topic must accept replication factor 1 and min ISR 1, or the
# transaction coordinator and the share coordinator cannot create their topics.
_SINGLE_NODE = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "min.insync.replicas": "1",
    "default.replication.factor": "1",
    "group.initial.rebalance.delay.ms": "0",
    "num.partitions": "1",
    "auto.create.topics.enable": "false",
}

#: For crash tests: after a SIGKILL the restarted broker cannot register until the
#: controller expires the dead one's session (``broker.session.timeout.ms``, 9 s by
#: default); these make that about 3 s. Pass as ``LocalKafka(extra_properties=...)``.
FAST_SESSION_EXPIRY = {
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
}


def broker_properties(port: int, controller_port: int, log_dir: Path, *,
                      host: str = LOOPBACK,
                      extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """server.properties for a combined broker and controller on ``host``."""
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        **_SINGLE_NODE,
    }
    props.update(extra or {})
    return props


def render_properties(props: Mapping[str, str]) -> str:
    """Java properties text, one ``key=value`` a line, backslashes escaped."""
    return "".join(f"{key}={value.replace(chr(92), chr(92) * 2)}\n"
                   for key, value in props.items())


def container_env(advertised: str, *, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``KAFKA_*`` variables for the apache/kafka image: the same settings, with the
    PLAINTEXT listener on all interfaces in the container, advertised as ``advertised``
    (``host:port`` as seen from the tests)."""
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@localhost:9093",
        "listeners": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093",
        "advertised.listeners": f"PLAINTEXT://{advertised}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": "/tmp/kraft-combined-logs",
        **_SINGLE_NODE,
        **(extra or {}),
    }
    return {"KAFKA_" + key.upper().replace(".", "_"): value for key, value in props.items()}


def new_cluster_id() -> str:
    """A random Kafka ``Uuid`` string (URL-safe base64 of 16 bytes, no padding), as
    ``kafka-storage random-uuid`` prints, never starting with ``-``."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


LOG4J2_PROPERTIES = """\
# Written by processor.devkafka: broker logs to stdout, which goes to broker.log.
status = warn
# Keep logging through the broker's own shutdown (the hook would stop log4j first).
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""
