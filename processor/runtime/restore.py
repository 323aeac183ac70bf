"""Restore one partition's member state from the compacted changelog (read_committed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from processor.runtime.partition_meta import META_KEY, PartitionMeta, decode_meta

log = structlog.get_logger("aor.runtime")


def restore_partition(consumer: Any, topic: str, partition: int, timeout_s: float = 300.0,
                      on_batch: Callable[[], None] | None = None
                      ) -> tuple[dict[str, bytes], PartitionMeta]:
    """Members (encoded, by member id) and the partition's progress as of the last
    committed transaction.

    The changelog is read to its high watermark, not to the first end of partition: a
    read_committed consumer stops at the last stable offset, where the first transaction
    still open begins. One left open by an instance that died or hung (a zombie) would
    hide everything the partition's owners committed after it, and the restore would
    come back with members missing or stale. So the restore waits until that transaction
    is aborted: fenced by the instance's successor, or after its transaction.timeout.ms.
    """
    tp = TopicPartition(topic, partition, OFFSET_BEGINNING)
    members: dict[str, bytes] = {}
    meta = PartitionMeta()
    consumer.assign([tp])
    deadline = time.monotonic() + timeout_s
    # The high watermark when the end was first reached (the cached one is the high
    # watermark of the last fetch, also for read_committed; a query would give the
    # last stable offset).
    target: int | None = None
    waiting = False
    try:
        while True:
            batch = consumer.consume(10000, 0.1)
            if on_batch is not None:
                on_batch()  # a long restore is progress, not a stall
            reached: int | None = None
            for msg in batch:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        if msg.partition() == partition:
                            reached = msg.offset()
                        continue
                    raise RuntimeError(f"changelog restore: {error}")
                key, value = msg.key(), msg.value()
                if key == META_KEY:
                    meta = decode_meta(value)
                elif value is None:
                    members.pop(key.decode(), None)
                else:
                    members[key.decode()] = value
            if reached is not None:
                if target is None:
                    target = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), cached=True)[1]
                if reached >= target:
                    return members, meta
                if not waiting:
                    waiting = True
                    log.warning("restore.waiting_for_open_transaction", partition=partition,
                                stable_offset=reached, high_watermark=target)
            if time.monotonic() > deadline:
                raise TimeoutError(f"restore of {topic}[{partition}] took over {timeout_s} s")
    finally:
        consumer.unassign()
