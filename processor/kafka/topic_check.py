"""`topics check` and `topics copy`: is the deployment's Kafka side what the processor
expects, and moving input topics written with another partitioner.

Two questions, answered without changing anything: does each topic have the shape
`topics create` would give it (partitions, replication, retention, min.insync.replicas,
cleanup policy), and were the input topics written with the partitioner the input check
expects (a sample of each partition's keys, placed by murmur2 and by CRC-32)?
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processor.config import InputPartitioner, Settings
from processor.kafka import clients
from processor.kafka.history import read_topics
from processor.kafka.partitioner import partition_of
from processor.kafka.topics import CoPartitioningError, compare_topics

RULES = (InputPartitioner.MURMUR2, InputPartitioner.CRC32)


@dataclass(slots=True)
class KeySample:
    """Keys read from one input topic, and how many sit elsewhere than each rule puts them."""

    topic: str
    partitions: int = 0
    sampled: int = 0
    misplaced: dict[InputPartitioner, int] = field(
        default_factory=lambda: dict.fromkeys(RULES, 0))

    def share(self, rule: InputPartitioner) -> float:
        return self.misplaced[rule] / self.sampled if self.sampled else 0.0


@dataclass(slots=True)
class CheckReport:
    rule: InputPartitioner
    topics: dict[str, list[str]] = field(default_factory=dict)  # topic -> differences
    samples: list[KeySample] = field(default_factory=list)
    refused: str | None = None  # inputs that cannot be co-partitioned

    @property
    def ok(self) -> bool:
        misrouted = self.rule is not InputPartitioner.OFF and any(
            s.misplaced[self.rule] for s in self.samples)
        return not misrouted and not self.refused and not any(self.topics.values())


def sample_keys(settings: Settings, topic: str, per_partition: int,
                timeout: float = 30.0) -> KeySample:
    """The first `per_partition` keyed records of each partition of `topic`."""
    found = KeySample(topic)
    ends: dict[tuple[str, int], int] = {}
    try:
        for msg in read_topics(settings, [topic], None, "topics-check", ends,
                               limit=per_partition, timeout=timeout):
            found.partitions = len(ends)
            key, p = msg.key(), msg.partition()
            if key is not None:
                found.sampled += 1
                for rule in RULES:
                    if partition_of(key, found.partitions, rule) != p:
                        found.misplaced[rule] += 1
    except ValueError:  # the topic does not exist: compare_topics reports it missing
        return found
    found.partitions = len(ends)
    return found


def check_topics(settings: Settings, per_partition: int = 1000,
                 timeout: float = 30.0) -> CheckReport:
    report = CheckReport(settings.input_partitioner)
    try:
        report.topics = compare_topics(settings, timeout)
    except CoPartitioningError as refused:
        report.refused = str(refused)
    for topic in (settings.enrollments_topic, settings.plan_changes_topic):
        report.samples.append(sample_keys(settings, topic, per_partition, timeout))
    return report


def copy_topic(settings: Settings, source: str, target: str,
               on_progress: Callable[[int, int], None] | None = None) -> int:
    """Every committed record of `source` into `target` (which must exist), with its key,
    value, headers and timestamp, placed by this project's producer: Java's partitioner.
    For input topics written with another partitioner (RUNBOOK.md, "Producers and
    partitions"). Idempotent producer, acks=all; a delivery error fails the copy."""
    config: dict[str, Any] = {"enable.idempotence": True, "acks": "all", "linger.ms": 20}
    producer = clients.producer(settings, **config)
    if target not in producer.list_topics(timeout=30).topics:
        raise ValueError(f"target topic {target!r} does not exist; create it first with the "
                         "source's partition count (`topics create` with the new names)")
    errors: list[str] = []

    def delivered(error: Any, _msg: Any) -> None:
        if error is not None:
            errors.append(str(error))

    copied = 0
    for msg in read_topics(settings, [source], None, "topics-copy", on_progress=on_progress):
        _, timestamp = msg.timestamp()
        producer.produce(target, value=msg.value(), key=msg.key(),
                         headers=msg.headers() or None, timestamp=timestamp,
                         on_delivery=delivered)
        producer.poll(0)
        copied += 1
    left = producer.flush(120)
    if left or errors:
        raise RuntimeError(f"{left} records undelivered; errors: {errors[:3]}")
    return copied


__all__ = ["CheckReport", "KeySample", "check_topics", "copy_topic", "sample_keys"]
