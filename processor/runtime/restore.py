"""Restore one partition's member state from the compacted changelog (read_committed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from processor.domain.member import MemberState
from processor.runtime.state_codec import decode_meta, decode_state

META_KEY = b"\x00partition-meta"


def restore_partition(consumer: Any, topic: str, partition: int, timeout_s: float = 300.0,
                      on_batch: Callable[[], None] | None = None
                      ) -> tuple[dict[str, MemberState], dict[int, int]]:
    """Members and applied agent-status offsets as of the last committed transaction."""
    tp = TopicPartition(topic, partition, OFFSET_BEGINNING)
    low, high = consumer.get_watermark_offsets(tp, timeout=30)
    members: dict[str, MemberState] = {}
    applied: dict[int, int] = {}
    if high <= low:
        return members, applied
    consumer.assign([tp])
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            batch = consumer.consume(10000, 0.1)
            if on_batch is not None:
                on_batch()  # a long restore is progress, not a stall
            done = False
            for msg in batch:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        done = True
                        continue
                    raise RuntimeError(f"changelog restore: {error}")
                key, value = msg.key(), msg.value()
                if key == META_KEY:
                    applied = decode_meta(value)
                elif value is None:
                    members.pop(key.decode(), None)
                else:
                    state = decode_state(value)
                    members[state.member_id] = state
            if done:
                return members, applied
            if time.monotonic() > deadline:
                raise TimeoutError(f"restore of {topic}[{partition}] took over {timeout_s} s")
    finally:
        consumer.unassign()
