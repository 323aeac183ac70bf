"""Create topics and wait until the broker serves them.

``CreateTopics`` returns once the controller has committed the topic; the broker's
metadata cache learns of it a moment later, and until then clients see
UNKNOWN_TOPIC_OR_PART. ``create_topics`` waits that moment out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from processor.devkafka.errors import DevKafkaError

POLL_SECONDS = 0.1


def create_topics(bootstrap_servers: str, partitions: Mapping[str, int], *,
                  config: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
    """Create each topic with its partition count (replication factor 1), then wait until
    metadata shows every partition with a leader."""
    with AdminClient({"bootstrap.servers": bootstrap_servers}) as admin:
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=count, replication_factor=1,
                      config=dict(config or {}))
             for name, count in partitions.items()],
            request_timeout=timeout)
        for future in futures.values():
            future.result(timeout=timeout)
        deadline = time.monotonic() + timeout
        waiting = dict(partitions)
        while waiting:
            for name in list(waiting):
                if _served(admin, name, waiting[name]):
                    del waiting[name]
            if waiting and time.monotonic() > deadline:
                raise DevKafkaError(f"topics {sorted(waiting)} created but not served by "
                                    f"{bootstrap_servers} within {timeout:.0f} s")
            if waiting:
                time.sleep(POLL_SECONDS)


def create_topic(bootstrap_servers: str, name: str, partitions: int = 1, *,
                 config: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
    """``create_topics`` for one topic."""
    create_topics(bootstrap_servers, {name: partitions}, config=config, timeout=timeout)


def _served(admin: AdminClient, name: str, partitions: int) -> bool:
    try:
        metadata = admin.list_topics(topic=name, timeout=5.0)
    except KafkaException:
        return False
    topic = metadata.topics.get(name)
    if topic is None or topic.error is not None or len(topic.partitions) != partitions:
        return False
    return all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
