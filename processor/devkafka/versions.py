"""Pinned versions of the broker artifacts."""

from __future__ import annotations

#: org.apache.kafka:kafka_2.13; its classes are Java 17 bytecode and it runs on Java 17.
KAFKA_VERSION = "4.4.0"

#: The log4j-core version that kafka_2.13:4.4.0 pulls (through kafka-server). The SLF4J
#: binding must match it: Kafka 4.x logs through SLF4J 1.7 (slf4j-api 1.7.36) into log4j2,
#: so the binding is log4j-slf4j-impl (SLF4J 1.x), not log4j-slf4j2-impl (SLF4J 2.x).
LOG4J_VERSION = "2.25.5"

#: Oldest Java major version the Kafka 4.x broker runs on.
MIN_JAVA = 17
