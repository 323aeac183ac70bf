"""A changelog restore reads past a transaction that a dead or hung instance left open.

A read_committed consumer stops at the last stable offset, where the first open
transaction begins. Found by the fault suite: an instance hung in a transaction (a
broker restart), its partitions moved to another instance, which committed more state;
a third restore within the hung transaction's timeout came back without that state, and
snapshot corrections were then lost for the members it missed. The restore now waits
for the open transaction to be aborted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from processor.domain.member import new_member
from processor.runtime.restore import restore_partition
from processor.state.codec import encode_state

pytestmark = pytest.mark.kafka

FENCE_AFTER_S = 2.0


def transactional(bootstrap: str, transactional_id: str) -> Producer:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id,
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(30)
    return producer


def put(producer: Producer, topic: str, member_id: str, commit: bool = True) -> None:
    producer.begin_transaction()
    producer.produce(topic, key=member_id.encode(), value=encode_state(new_member(member_id)),
                     partition=0)
    if commit:
        producer.commit_transaction(30)
    else:
        assert producer.flush(30) == 0  # in the log, the transaction left open


def test_a_restore_waits_for_a_zombie_transaction_and_reads_what_was_committed_after_it(
        kafka_bootstrap: str, unique_topic: Callable[[str], str]) -> None:
    topic = unique_topic("changelog")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config={"cleanup.policy": "compact"})]
                        )[topic].result(30)
    owner = transactional(kafka_bootstrap, f"{topic}-owner")
    put(owner, topic, "mbr-before")
    zombie = transactional(kafka_bootstrap, f"{topic}-zombie")
    put(zombie, topic, "mbr-zombie", commit=False)
    put(owner, topic, "mbr-after")  # the next owner's work, after the open transaction

    def fence() -> None:
        # The zombie's successor (same transactional.id) aborts its open transaction.
        time.sleep(FENCE_AFTER_S)
        transactional(kafka_bootstrap, f"{topic}-zombie")

    restorer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{topic}-restore",
                         "isolation.level": "read_committed", "enable.partition.eof": True,
                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
    fencer = threading.Thread(target=fence, daemon=True)
    began = time.monotonic()
    fencer.start()
    try:
        members, _ = restore_partition(restorer, topic, 0, timeout_s=60)
    finally:
        restorer.close()
    fencer.join(30)
    assert sorted(members) == ["mbr-after", "mbr-before"]
    assert time.monotonic() - began >= FENCE_AFTER_S  # it waited for the abort
