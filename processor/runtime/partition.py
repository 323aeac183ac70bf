"""One input partition: its members' engine, the merge of its two co-partitioned
inputs by record timestamp, event gating on the agent-status table, and the
application of snapshots in contract order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from processor.codec.dead_letter import DeadLetter
from processor.domain.agents import ALL_IDS
from processor.domain.engine import Engine
from processor.domain.model import Decision, Enrollment, PlanChange
from processor.runtime.agent_feed import AgentFeed, FeedItem
from processor.runtime.partition_meta import PartitionMeta

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]


@dataclass(slots=True)
class Inbound:
    """A consumed input record, decoded (or a dead letter), waiting for its turn."""

    topic: str
    offset: int
    timestamp_ms: int
    record: Enrollment | PlanChange | None
    letter: DeadLetter | None
    key: bytes | None
    value: bytes | None

    @property
    def order(self) -> tuple[int, str]:
        return (self.timestamp_ms, self.record.event_id if self.record is not None else "")


@dataclass(slots=True)
class Produced:
    """What one step produced for the transaction."""

    decisions: list[Decision] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    early: int = 0


@dataclass(slots=True)
class PartitionWorker:
    partition: int
    engine: Engine
    applied: dict[int, int]
    topics: tuple[str, str]  # (enrollments, plan-changes)
    buffers: dict[str, deque[Inbound]] = field(default_factory=dict)
    at_end: dict[str, bool] = field(default_factory=dict)
    # Next offset per input topic whose records are all decided, as the changelog meta
    # records it; records before it that come again are not decided again.
    decided: dict[str, int] = field(default_factory=dict)
    # Next offset to commit per input topic (moved since the last transaction).
    positions: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    meta_dirty: bool = False
    held_since: float | None = None

    def __post_init__(self) -> None:
        for topic in self.topics:
            self.buffers.setdefault(topic, deque())
            self.at_end.setdefault(topic, False)

    def add(self, inbound: Inbound) -> None:
        self.at_end[inbound.topic] = False
        decided = self.decided.get(inbound.topic, 0)
        if inbound.offset < decided:
            # Read from group offsets that lag the changelog: already decided. Commit
            # the offsets past it, so the group catches up.
            self.positions[inbound.topic] = max(self.positions.get(inbound.topic, 0), decided)
            return
        self.buffers[inbound.topic].append(inbound)

    def mark_end(self, topic: str) -> None:
        self.at_end[topic] = True

    @property
    def buffered(self) -> int:
        return sum(len(b) for b in self.buffers.values())

    def _next(self) -> Inbound | None:
        """The earliest record of the two inputs, when it is safe to say which that is."""
        first, second = (self.buffers[t] for t in self.topics)
        if first and second:
            return first[0] if first[0].order <= second[0].order else second[0]
        if first and self.at_end[self.topics[1]]:
            return first[0]
        if second and self.at_end[self.topics[0]]:
            return second[0]
        return None

    def _apply(self, item: FeedItem, out: Produced) -> None:
        if item.snapshot is not None:
            out.decisions.extend(self.engine.apply_snapshot(item.snapshot))
            self._drain()
        elif item.letter is not None and self.partition == 0:
            # Every instance reads agent-status; partition 0's owner reports its dead
            # letters, once, in the transaction that records the offset as applied.
            out.letters.append(item.letter)
        self.applied[item.partition] = item.offset + 1
        self.meta_dirty = True

    def _drain(self) -> None:
        # Every stored state goes to the changelog, even one that emitted nothing: it
        # records the snapshots its decisions now rest on.
        self.dirty |= self.engine.changed
        self.engine.changed.clear()

    def step(self, feed: AgentFeed, out: Produced, budget: int, max_wait_s: float,
             now: Monotonic, clock: Clock) -> int:
        """Decide what can be decided now, at most `budget` inputs; returns inputs used."""
        used = 0
        while used < budget:
            head = self._next()
            if head is None:
                break
            if head.record is not None and not feed.passed(head.timestamp_ms):
                # Hold the event until the table has been read past its recorded_at.
                started = self.held_since if self.held_since is not None else now()
                self.held_since = started
                if now() - started < max_wait_s:
                    break
                out.early += 1
            self.held_since = None
            self.buffers[head.topic].popleft()
            self.positions[head.topic] = self.decided[head.topic] = head.offset + 1
            used += 1
            if head.record is None:
                assert head.letter is not None
                out.letters.append(head.letter)
                continue
            event = head.record
            # Snapshots recorded up to the event go first, as in the replay; but an event
            # that will not be decided (invalid, conflicting, a duplicate) moves nothing:
            # its recorded_at may be anything, and applying snapshots past the events
            # after it would lose their corrections.
            result = self.engine.screen(event)
            if result is None:
                for item in feed.pending(self.applied, (event.recorded_at, ALL_IDS)):
                    self._apply(item, out)
                result = self.engine.on_event(event)
            if result.rejection is not None:
                out.letters.append(DeadLetter(
                    source=head.topic, partition=self.partition, offset=head.offset,
                    key=head.key, value=head.value, error_type=result.rejection.error_type.value,
                    error_message=result.rejection.message,
                    failed_at=clock()))
            out.duplicates += result.duplicate
            out.decisions.extend(result.decisions)
            self._drain()
        if self.idle and used < budget:
            # Both inputs are drained: snapshots read since are corrections now.
            for item in feed.pending(self.applied, None):
                self._apply(item, out)
                used += 1
                if used >= budget:
                    break
        return used

    @property
    def meta(self) -> PartitionMeta:
        return PartitionMeta(dict(self.applied), dict(self.decided))

    @property
    def idle(self) -> bool:
        return not self.buffered and all(self.at_end.values())
