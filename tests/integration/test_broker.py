"""The session broker is a real Kafka: transactions commit and abort, isolation levels
differ, and consumer groups keep committed offsets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from processor.devkafka.topics import create_topic

pytestmark = pytest.mark.kafka

PARTITIONS = 3
COMMITTED_PER_PARTITION = 4
ABORTED_PER_PARTITION = 3
TIMEOUT = 30.0


@dataclass(frozen=True)
class Produced:
    """What ``produce_transactions`` wrote to each partition, in order."""

    committed: dict[int, list[str]]
    aborted: dict[int, list[str]]
    last: dict[int, str]

    def visible(self, *, read_committed: bool) -> dict[int, list[str]]:
        """The values a consumer should read from each partition, in order."""
        return {p: self.committed[p] + ([] if read_committed else self.aborted[p])
                + [self.last[p]] for p in range(PARTITIONS)}


def produce_transactions(bootstrap: str, topic: str) -> Produced:
    """Three transactions over every partition: one committed, one aborted (its records
    reach the log first), then a committed one with the last record of each partition."""
    errors: list[str] = []

    def delivered(error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            errors.append(str(error))

    def batch(producer: Producer, label: str, count: int) -> dict[int, list[str]]:
        values: dict[int, list[str]] = {}
        for partition in range(PARTITIONS):
            values[partition] = [f"{label}-p{partition}-{i}" for i in range(count)]
            for value in values[partition]:
                producer.produce(topic, value=value.encode(), key=value.encode(),
                                 partition=partition, on_delivery=delivered)
        return values

    with Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-tx",
                   "enable.idempotence": True, "linger.ms": 5}) as producer:
        producer.init_transactions(TIMEOUT)

        producer.begin_transaction()
        committed = batch(producer, "committed", COMMITTED_PER_PARTITION)
        producer.commit_transaction(TIMEOUT)

        producer.begin_transaction()
        aborted = batch(producer, "aborted", ABORTED_PER_PARTITION)
        assert producer.flush(TIMEOUT) == 0  # written to the log before the abort
        assert not errors, errors
        producer.abort_transaction(TIMEOUT)

        producer.begin_transaction()
        last = {p: values[0] for p, values in batch(producer, "last", 1).items()}
        producer.commit_transaction(TIMEOUT)
    assert not errors, errors
    return Produced(committed, aborted, last)


def partition_of(message: Message) -> int:
    partition = message.partition()
    assert partition is not None
    return partition


def text_of(message: Message) -> str:
    value = message.value()
    assert isinstance(value, bytes)
    return value.decode()


def offset_of(message: Message) -> int:
    offset = message.offset()
    assert offset is not None
    return offset


def consume(consumer: Consumer, produced: Produced) -> dict[int, list[Message]]:
    """Poll until every partition's last record has arrived; the messages by partition."""
    seen: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
    done: set[int] = set()
    deadline = time.monotonic() + TIMEOUT
    while len(done) < PARTITIONS:
        assert time.monotonic() < deadline, f"only partitions {sorted(done)} finished"
        message = consumer.poll(0.5)
        if message is None:
            continue
        assert message.error() is None, message.error()
        partition = partition_of(message)
        seen[partition].append(message)
        if text_of(message) == produced.last[partition]:
            done.add(partition)
    return seen


def values(messages: dict[int, list[Message]]) -> dict[int, list[str]]:
    return {p: [text_of(m) for m in found] for p, found in messages.items()}


def read_all(bootstrap: str, topic: str, isolation: str, produced: Produced,
             group: str) -> dict[int, list[Message]]:
    with Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                   "isolation.level": isolation, "enable.auto.commit": False}) as consumer:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                         for p in range(PARTITIONS)])
        return consume(consumer, produced)


@pytest.fixture
def transactional_topic(kafka_bootstrap: str,
                        unique_topic: Callable[[str], str]) -> tuple[str, Produced]:
    topic = unique_topic("tx")
    create_topic(kafka_bootstrap, topic, PARTITIONS)
    return topic, produce_transactions(kafka_bootstrap, topic)


def test_read_committed_sees_exactly_the_committed_records(
        kafka_bootstrap: str, transactional_topic: tuple[str, Produced]) -> None:
    topic, produced = transactional_topic
    found = read_all(kafka_bootstrap, topic, "read_committed", produced, f"{topic}-rc")
    assert values(found) == produced.visible(read_committed=True)
    assert not any(v.startswith("aborted") for vs in values(found).values() for v in vs)


def test_read_uncommitted_also_sees_the_aborted_records(
        kafka_bootstrap: str, transactional_topic: tuple[str, Produced]) -> None:
    topic, produced = transactional_topic
    found = read_all(kafka_bootstrap, topic, "read_uncommitted", produced, f"{topic}-ru")
    assert values(found) == produced.visible(read_committed=False)


def test_transaction_markers_take_offsets(
        kafka_bootstrap: str, transactional_topic: tuple[str, Produced]) -> None:
    """Each transaction ends with a control record in every partition it wrote: offsets
    are committed 0..3, marker 4, aborted 5..7, marker 8, last 9, marker 10."""
    topic, produced = transactional_topic
    found = read_all(kafka_bootstrap, topic, "read_committed", produced, f"{topic}-off")
    last_offset = COMMITTED_PER_PARTITION + 1 + ABORTED_PER_PARTITION + 1
    with Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{topic}-wm"}
                  ) as consumer:
        for partition in range(PARTITIONS):
            offsets = [offset_of(m) for m in found[partition]]
            assert offsets == [*range(COMMITTED_PER_PARTITION), last_offset]
            watermarks = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                        timeout=TIMEOUT)
            assert watermarks == (0, last_offset + 2)


def test_consumer_group_commits_offsets(
        kafka_bootstrap: str, transactional_topic: tuple[str, Produced]) -> None:
    topic, produced = transactional_topic
    group = f"{topic}-group"
    with Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group,
                   "isolation.level": "read_committed", "enable.auto.commit": False,
                   "auto.offset.reset": "earliest"}) as consumer:
        consumer.subscribe([topic])
        found = consume(consumer, produced)
        assert values(found) == produced.visible(read_committed=True)
        # The next offset to read, per partition. (A bare commit() would store the
        # position, which may already be past the last transaction's marker.)
        expected = {p: offset_of(found[p][-1]) + 1 for p in range(PARTITIONS)}
        consumer.commit(offsets=[TopicPartition(topic, p, offset)
                                 for p, offset in expected.items()], asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                       timeout=TIMEOUT)
        assert {tp.partition: tp.offset for tp in committed} == expected

    # The offsets outlive the consumer: the group coordinator stored them.
    with AdminClient({"bootstrap.servers": kafka_bootstrap}) as admin:
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        result = futures[group].result(timeout=TIMEOUT)
        listed = admin.list_consumer_groups(request_timeout=TIMEOUT).result(timeout=TIMEOUT)
    stored = {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == topic}
    assert stored == expected
    assert group in {g.group_id for g in listed.valid}
