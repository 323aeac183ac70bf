"""The global agent-status table: every instance reads every partition of the topic.

Snapshots go into the shared AgentTable as they are read. Each input partition
applies them to its own members later, in (recorded_at, snapshot_id) order, keeping
per agent-status partition the next offset it has applied (its changelog meta), so
corrections caused by snapshots are exactly-once too.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec
from processor.domain.agents import AgentTable, Horizon
from processor.domain.model import AgentStatusSnapshot

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One agent-status record: a snapshot, or a dead letter (poison or conflicting id)."""

    partition: int
    offset: int
    key: Horizon
    snapshot: AgentStatusSnapshot | None
    letter: DeadLetter | None


class AgentFeed:
    def __init__(self, consumer: Any, topic: str, wire: WireCodec, table: AgentTable,
                 clock: Clock) -> None:
        self.consumer = consumer
        self.topic = topic
        self.wire = wire
        self.table = table
        self.clock = clock
        self.items: dict[int, list[FeedItem]] = {}
        self._offsets: dict[int, list[int]] = {}
        self.last_timestamp: dict[int, int] = {}
        self.at_end: dict[int, bool] = {}
        self.records = 0

    def start(self, timeout: float = 30.0) -> None:
        meta = self.consumer.list_topics(self.topic, timeout=timeout)
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise ValueError(f"agent-status topic {self.topic!r} does not exist; run "
                             "`aor-processor topics create` first")
        partitions = sorted(topic.partitions)
        for p in partitions:
            self.items[p] = []
            self._offsets[p] = []
            self.at_end[p] = False
            self.last_timestamp[p] = -1
        self.consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING)
                              for p in partitions])

    def poll(self, max_messages: int = 1000, timeout: float = 0.0) -> int:
        """Read what is there without waiting (unless `timeout`); returns records read."""
        read = 0
        for msg in self.consumer.consume(max_messages, timeout):
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self.at_end[msg.partition()] = True
                    continue
                raise RuntimeError(f"agent-status consumer: {error}")
            self._add(msg)
            read += 1
        self.records += read
        return read

    def bootstrap(self, timeout: float = 300.0, on_progress: Callable[[int], None] | None = None
                  ) -> None:
        """Read every partition to its end before any event is decided."""
        deadline = self.clock().timestamp() + timeout
        while not all(self.at_end.values()):
            self.poll(5000, 0.5)
            if on_progress is not None:
                on_progress(self.records)
            if self.clock().timestamp() > deadline:
                raise TimeoutError(f"agent-status bootstrap did not finish in {timeout:.0f} s")

    def _add(self, msg: Any) -> None:
        partition, offset = msg.partition(), msg.offset()
        self.at_end[partition] = False
        _, timestamp_ms = msg.timestamp()
        self.last_timestamp[partition] = max(self.last_timestamp[partition], timestamp_ms)
        when = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        try:
            record = self.wire.decode(RecordKind.AGENT_STATUS, msg.value(), msg.headers())
            assert isinstance(record, AgentStatusSnapshot)
        except DecodeError as error:
            item = FeedItem(partition, offset, (when, ""), None,
                            self._letter(msg, error.error_type.value, error.message))
        else:
            held = self.table.get(record.snapshot_id)
            if held is None:
                self.table.add(record)
                item = FeedItem(partition, offset, (record.recorded_at, record.snapshot_id),
                                record, None)
            elif held == record:  # a redelivery: nothing to apply
                item = FeedItem(partition, offset, (record.recorded_at, record.snapshot_id),
                                None, None)
            else:
                item = FeedItem(partition, offset, (record.recorded_at, record.snapshot_id),
                                None, self._letter(
                                    msg, "CONFLICTING_DUPLICATE",
                                    f"snapshot_id {record.snapshot_id} was already received "
                                    "with a different payload"))
        self.items[partition].append(item)
        self._offsets[partition].append(offset)

    def _letter(self, msg: Any, error_type: str, message: str) -> DeadLetter:
        return DeadLetter(source=self.topic, partition=msg.partition(), offset=msg.offset(),
                          key=msg.key(), value=msg.value(), error_type=error_type,
                          error_message=message, failed_at=self.clock())

    def passed(self, timestamp_ms: int) -> bool:
        """Has the table been read past this record timestamp on every partition?"""
        return all(self.at_end[p] or self.last_timestamp[p] > timestamp_ms
                   for p in self.at_end)

    def caught_up(self) -> bool:
        return all(self.at_end.values())

    def pending(self, applied: dict[int, int], until: Horizon | None) -> Iterator[FeedItem]:
        """Items not yet applied, merged in (recorded_at, id) order, offset order per
        partition, stopping at the first head beyond `until`."""
        heads: list[tuple[Horizon, int, int]] = []
        for p, offsets in self._offsets.items():
            i = bisect_left(offsets, applied.get(p, 0))
            if i < len(offsets):
                heads.append((self.items[p][i].key, p, i))
        heapq.heapify(heads)
        while heads:
            key, p, i = heapq.heappop(heads)
            if until is not None and key > until:
                return
            yield self.items[p][i]
            if i + 1 < len(self.items[p]):
                heapq.heappush(heads, (self.items[p][i + 1].key, p, i + 1))

    def has_pending(self, applied: dict[int, int]) -> bool:
        return any(bisect_left(offsets, applied.get(p, 0)) < len(offsets)
                   for p, offsets in self._offsets.items())


__all__ = ["AgentFeed", "FeedItem"]
