"""Rewind the live consumer group to a datetime (Kafka Streams' application reset).

Member state is rebuilt the way a range replay builds it: every input recorded before
the datetime is folded through the engine; the changelog then holds exactly that state
(members first seen later are deleted), each partition's agent-status progress is set
to the same instant, and the group's input offsets move to the first record at or after
it. Re-read events are then decided again instead of being dropped as duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, TopicPartition

from processor.codec.dead_letter import DeadLetter
from processor.codec.wire import WireCodec
from processor.config import Settings
from processor.domain.engine import Engine
from processor.domain.model import AgentStatusSnapshot, Decision
from processor.domain.settings import PolicySettings
from processor.files.replay import replay_inputs
from processor.kafka import clients
from processor.kafka.history import bounds, read_history
from processor.runtime.partition_meta import META_KEY, PartitionMeta, encode_meta
from processor.state.codec import encode_state

Clock = Callable[[], datetime]


class RewindRefusedError(ValueError):
    pass


@dataclass(slots=True)
class PartitionPlan:
    partition: int
    committed: dict[str, int]
    target: dict[str, int]
    members_kept: int = 0
    members_deleted: int = 0

    @property
    def rereads(self) -> int:
        return sum(max(0, self.committed.get(t, 0) - self.target[t]) for t in self.target)


@dataclass(slots=True)
class RewindPlan:
    to: datetime
    partitions: list[PartitionPlan] = field(default_factory=list)
    agent_status: dict[int, int] = field(default_factory=dict)
    applied: bool = False


class _Discard:
    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        pass

    def dead_letter(self, letter: DeadLetter) -> None:
        pass


def refuse_if_active(settings: Settings) -> None:
    """Refuse to touch the group's state while any instance of it runs."""
    admin = clients.admin(settings)
    group = settings.application_id
    described = admin.describe_consumer_groups([group])[group].result(30)
    if described.members:
        raise RewindRefusedError(
            f"consumer group {group!r} still has {len(described.members)} member(s); stop "
            "every instance first (with static membership, wait for the session timeout)")


def _committed(settings: Settings, topics: list[str], partitions: list[int]
               ) -> dict[tuple[str, int], int]:
    consumer = clients.consumer(settings)
    try:
        found = consumer.committed([TopicPartition(t, p) for t in topics for p in partitions],
                                   timeout=30)
        return {(tp.topic, tp.partition): tp.offset for tp in found}
    finally:
        consumer.close()


def _changelog_members(settings: Settings, partition: int) -> set[bytes]:
    """Keys present now in one changelog partition (read_committed, to the end)."""
    config: dict[str, Any] = {"group.id": f"{settings.application_id}.rewind.{uuid.uuid4().hex}",
                              "isolation.level": "read_committed",
                              "enable.partition.eof": True, "auto.offset.reset": "earliest"}
    consumer = clients.consumer(settings, **config)
    keys: set[bytes] = set()
    try:
        _, high = consumer.get_watermark_offsets(
            TopicPartition(settings.changelog_topic, partition), timeout=30)
        if high <= 0:
            return keys
        consumer.assign([TopicPartition(settings.changelog_topic, partition, 0)])
        while True:
            for msg in consumer.consume(10000, 0.2):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return keys
                    raise RuntimeError(f"reading the changelog: {error}")
                key = msg.key()
                if key is None or key == META_KEY:
                    continue
                if msg.value() is None:
                    keys.discard(key)
                else:
                    keys.add(key)
    finally:
        consumer.close()


def plan_and_rewind(settings: Settings, policy: PolicySettings, wire: WireCodec, to: datetime,
                    clock: Clock, dry_run: bool = True) -> RewindPlan:
    refuse_if_active(settings)
    probe_config: dict[str, Any] = {"group.id": f"{settings.application_id}.probe"}
    probe = clients.consumer(settings, **probe_config)
    try:
        inputs = (settings.enrollments_topic, settings.plan_changes_topic)
        targets = {t: bounds(probe, t, to) for t in inputs}
        agent_status = bounds(probe, settings.agent_status_topic, to)
    finally:
        probe.close()
    partitions = sorted(targets[settings.enrollments_topic])
    committed = _committed(settings, list(inputs), partitions)
    plan = RewindPlan(to, agent_status=agent_status)
    for p in partitions:
        plan.partitions.append(PartitionPlan(
            p, {t: committed.get((t, p), -1) for t in inputs},
            {t: targets[t][p] for t in inputs}))

    # Fold everything recorded before `to`, emitting nothing: the state a range replay
    # starting at `to` begins with.
    history = read_history(settings, wire, clock, to)
    engine = Engine(policy)
    replay_inputs(history.inputs, policy, _Discard(), clock, engine=engine)
    home: dict[str, int] = {}
    for item in history.inputs:
        if not isinstance(item.record, AgentStatusSnapshot) and item.partition is not None:
            home[item.record.member_id] = item.partition
    by_partition: dict[int, list[str]] = {p: [] for p in partitions}
    for member_id in engine.members:
        by_partition.setdefault(home[member_id], []).append(member_id)
    existing = {p: _changelog_members(settings, p) for p in partitions}
    for part in plan.partitions:
        kept = {m.encode() for m in by_partition[part.partition]}
        part.members_kept = len(kept)
        part.members_deleted = len(existing[part.partition] - kept)
    if dry_run:
        return plan

    # One transaction: a restore never sees half a rewind.
    transactional: dict[str, Any] = {"transactional.id": f"{settings.application_id}-rewind",
                                     "enable.idempotence": True}
    producer = clients.producer(settings, **transactional)
    producer.init_transactions(60)
    producer.begin_transaction()
    for p in partitions:
        for member_id in sorted(by_partition[p]):
            producer.produce(settings.changelog_topic, key=member_id.encode(),
                             value=encode_state(engine.members[member_id]), partition=p)
        kept = {m.encode() for m in by_partition[p]}
        for key in sorted(existing[p] - kept):
            producer.produce(settings.changelog_topic, key=key, value=None, partition=p)
        # No input positions: the group's offsets, moved below, say where to start.
        producer.produce(settings.changelog_topic, key=META_KEY,
                         value=encode_meta(PartitionMeta(applied=dict(agent_status))),
                         partition=p)
    producer.commit_transaction(60)
    admin = clients.admin(settings)
    offsets = [TopicPartition(t, part.partition, part.target[t])
               for part in plan.partitions for t in inputs]
    future = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(settings.application_id, offsets)])
    for result in future.values():
        result.result(30)
    plan.applied = True
    return plan
