"""A real Apache Kafka 4.x broker for tests and demos, without Docker.

The broker runs from the published Maven jars as a Java subprocess (single-node KRaft);
where a Docker engine answers, testcontainers' apache/kafka image can be used instead, and
``KAFKA_BOOTSTRAP_SERVERS`` always wins. Nothing here does I/O at import time.

Modules, one job each:

- ``paths``: where the jar cache and the dev-broker state live.
- ``java``: find a Java runtime that the broker supports.
- ``jars``: fetch the broker jars with Maven into the cache, once.
- ``config``: the broker's properties, log4j2 configuration and container environment.
- ``net``: free ports and TCP probes on the loopback interface.
- ``readiness``: wait until a broker answers a metadata request.
- ``process``: signal and wait for processes by id.
- ``broker``: ``LocalKafka``, a broker subprocess with start, stop and restart.
- ``topics``: create topics and wait until the broker serves them.
- ``docker_engine``: is a Docker engine answering?
- ``container``: a broker in an apache/kafka container via testcontainers (optional).
- ``provider``: choose one of the above for tests and demos.
- ``state``: the background broker of ``aor-processor dev-kafka``.
- ``cli``: the ``dev-kafka`` subcommand.
"""

from __future__ import annotations

from processor.devkafka.errors import DevKafkaError
from processor.devkafka.versions import KAFKA_VERSION, LOG4J_VERSION

__all__ = ["KAFKA_VERSION", "LOG4J_VERSION", "DevKafkaError"]
