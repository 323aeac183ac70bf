"""The processor's topics (contract.md "Topics") and an idempotent ``create_topics``.

Co-partitioning is what the runtime relies on: enrollments, plan changes and the
member-state changelog must have the same partition count, since a member's events
and state are found by ``hash(member_id) mod partitions``. So ``create_topics`` takes
the count of whichever of them already exists, gives it to the ones it creates, and
refuses (``CoPartitioningError``) when existing ones disagree. It never alters an
existing topic: a different replication factor or topic config is reported as a
warning for an operator to act on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported, not in __all__
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from processor.codec.kinds import RecordKind
from processor.config import Settings
from processor.kafka.clients import admin

DEFAULT_TIMEOUT_S = 30.0
_POLL_S = 0.1


class TopicRole(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    INTERNAL = "internal"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: Mapping[str, str]
    role: TopicRole
    co_partitioned: bool  # with enrollments: same partition count required


class TopicStatus(StrEnum):
    CREATED = "created"
    EXISTS = "exists"


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    status: TopicStatus
    partitions: int
    replication: int
    config: Mapping[str, str]  # the spec'd keys, as the broker has them
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicsReport:
    topics: tuple[TopicOutcome, ...]
    warnings: tuple[str, ...] = field(default=())  # not tied to one topic

    @property
    def created(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics if t.status is TopicStatus.CREATED)

    @property
    def existing(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics if t.status is TopicStatus.EXISTS)

    def all_warnings(self) -> tuple[str, ...]:
        return self.warnings + tuple(f"{t.name}: {w}" for t in self.topics for w in t.warnings)


class CoPartitioningError(ValueError):
    """Existing topics that must be co-partitioned have different partition counts."""


class TopicsError(RuntimeError):
    """The broker refused or failed to create a topic."""


def topic_for(settings: Settings, kind: RecordKind) -> str:
    """The configured topic of a record kind."""
    return {
        RecordKind.ENROLLMENT: settings.enrollments_topic,
        RecordKind.PLAN_CHANGE: settings.plan_changes_topic,
        RecordKind.AGENT_STATUS: settings.agent_status_topic,
        RecordKind.ASSIGNMENT: settings.assignments_topic,
        RecordKind.ADJUSTMENT: settings.adjustments_topic,
        RecordKind.DEAD_LETTER: settings.dead_letters_topic,
    }[kind]


def topic_specs(settings: Settings, partitions: int | None = None,
                replication: int | None = None) -> tuple[TopicSpec, ...]:
    """Every topic the processor needs, with the requested shape (defaults: settings)."""
    count = settings.partitions if partitions is None else partitions
    rf = settings.replication_factor if replication is None else replication
    if count < 1 or rf < 1:
        raise ValueError("partitions and replication factor must be at least 1")
    delete = {"cleanup.policy": "delete"}

    def spec(name: str, role: TopicRole, config: Mapping[str, str],
             co_partitioned: bool = False) -> TopicSpec:
        return TopicSpec(name, count, rf, dict(config), role, co_partitioned)

    # Every topic: an acknowledged write is on this many replicas (acks=all everywhere);
    # by default min(2, the replication factor of the topics being made).
    min_isr = settings.min_insync_replicas or min(2, rf)
    if min_isr > rf:
        raise ValueError(f"AOR_MIN_INSYNC_REPLICAS {min_isr} exceeds the replication factor "
                         f"{rf}: no write could be acknowledged")
    isr = {"min.insync.replicas": str(min_isr)}
    # Record timestamps are recorded_at, often years old: time retention would delete
    # history at once, and range replays and rewinds re-read it. Kept forever.
    forever = {**delete, "retention.ms": "-1", **isr}
    # The outputs are the audit trail explain, what-if, dump and downstream sinks read:
    # kept forever by default. Dead letters hold raw member records: kept ten years.
    outputs = {**delete, "retention.ms": str(settings.output_retention_ms), **isr}
    letters = {**delete, "retention.ms": str(settings.dead_letter_retention_ms), **isr}
    return (
        spec(settings.enrollments_topic, TopicRole.INPUT, forever, co_partitioned=True),
        spec(settings.plan_changes_topic, TopicRole.INPUT, forever, co_partitioned=True),
        # The whole history is needed for as-of lookups: kept forever, never compacted.
        spec(settings.agent_status_topic, TopicRole.INPUT, forever),
        spec(settings.assignments_topic, TopicRole.OUTPUT, outputs),
        spec(settings.adjustments_topic, TopicRole.OUTPUT, outputs),
        spec(settings.dead_letters_topic, TopicRole.OUTPUT, letters),
        spec(settings.changelog_topic, TopicRole.INTERNAL,
             {"cleanup.policy": "compact", **isr}, co_partitioned=True),
    )


@dataclass(frozen=True)
class _Existing:
    partitions: int
    replication: int


def create_topics(settings: Settings, partitions: int | None = None,
                  replication: int | None = None,
                  timeout: float = DEFAULT_TIMEOUT_S) -> TopicsReport:
    """Create the missing topics; report existing ones. Safe to run again.

    Existing topics whose partition count differs from an explicitly requested
    ``partitions`` are reported as warnings (with the default count they are not: an
    idempotent re-run stays quiet); a different replication factor or config always is.
    """
    specs = topic_specs(settings, partitions, replication)
    with admin(settings) as client:
        return _create_all(client, specs, timeout, explicit=partitions is not None)


def _create_all(client: AdminClient, specs: tuple[TopicSpec, ...], timeout: float, *,
                explicit: bool) -> TopicsReport:
    existing = _existing_topics(client, [s.name for s in specs], timeout)
    specs, notes = _co_partition(specs, existing)
    missing = [s for s in specs if s.name not in existing]
    created = _create(client, missing, timeout)
    if len(created) < len(missing):  # some were created concurrently by someone else
        existing = _existing_topics(client, [s.name for s in specs], timeout)
        _co_partition(specs, existing)
    _wait_served(client, {s.name: s.partitions for s in specs if s.name in created}, timeout)
    configs = _configs(client, [s for s in specs if s.name not in created], timeout)
    outcomes = []
    for spec in specs:
        if spec.name in created:
            outcomes.append(TopicOutcome(spec.name, TopicStatus.CREATED, spec.partitions,
                                         spec.replication, dict(spec.config)))
            continue
        found = existing[spec.name]
        actual = configs.get(spec.name, {})
        warnings = differences(spec, found, actual, partitions=explicit)
        outcomes.append(TopicOutcome(spec.name, TopicStatus.EXISTS, found.partitions,
                                     found.replication,
                                     {k: v for k, v in actual.items() if k in spec.config},
                                     tuple(warnings)))
    return TopicsReport(tuple(outcomes), tuple(notes) if explicit else ())


def differences(spec: TopicSpec, found: _Existing, config: Mapping[str, str], *,
                partitions: bool) -> list[str]:
    """How an existing topic differs from what `topics create` would make (`partitions`:
    also its partition count, for topics not co-partitioned)."""
    out = [f"{key}={config.get(key)!r}, expected {want!r}"
           for key, want in spec.config.items() if config.get(key) != want]
    if found.replication != spec.replication:
        out.append(f"replication factor {found.replication}, requested {spec.replication}")
    if partitions and not spec.co_partitioned and found.partitions != spec.partitions:
        out.append(f"{found.partitions} partitions, requested {spec.partitions}")
    return out


def compare_topics(settings: Settings, timeout: float = DEFAULT_TIMEOUT_S
                   ) -> dict[str, list[str]]:
    """Per topic of the processor, how it differs from what `topics create` would make
    ("missing" for one that does not exist). Changes nothing."""
    specs = topic_specs(settings)
    with admin(settings) as client:
        existing = _existing_topics(client, [s.name for s in specs], timeout)
        specs, _ = _co_partition(specs, existing)
        configs = _configs(client, [s for s in specs if s.name in existing], timeout)
    return {spec.name: (differences(spec, existing[spec.name], configs.get(spec.name, {}),
                                    partitions=True)
                        if spec.name in existing else ["missing"])
            for spec in specs}


def _co_partition(specs: tuple[TopicSpec, ...],
                  existing: Mapping[str, _Existing]) -> tuple[tuple[TopicSpec, ...], list[str]]:
    """Give co-partitioned specs the partition count of the existing ones; refuse when
    existing ones disagree."""
    group = [s for s in specs if s.co_partitioned]
    inputs = [s for s in group if s.role is TopicRole.INPUT]
    found_inputs = {s.name: existing[s.name].partitions for s in inputs if s.name in existing}
    if len(set(found_inputs.values())) > 1:
        counts = ", ".join(f"{n} has {c}" for n, c in found_inputs.items())
        raise CoPartitioningError(
            f"input topics must be co-partitioned (same partition count) but {counts} "
            f"partitions; recreate one of them")
    changelogs = [s for s in group if s.role is TopicRole.INTERNAL and s.name in existing]
    requested = group[0].partitions
    count = next(iter(found_inputs.values()), requested)
    for changelog in changelogs:
        has = existing[changelog.name].partitions
        if has != count:
            whose = "the input topics' " if found_inputs else "the requested "
            raise CoPartitioningError(
                f"changelog topic {changelog.name} has {has} partitions, but "
                f"{whose}count is {count}; it must match (delete the changelog to rebuild "
                f"it, or recreate the inputs)")
    notes = []
    if count != requested:
        notes.append(f"requested {requested} partitions, but existing input topics have "
                     f"{count}: co-partitioned topics keep {count}")
    fixed = tuple(TopicSpec(s.name, count, s.replication, s.config, s.role, True)
                  if s.co_partitioned else s for s in specs)
    return fixed, notes


def _existing_topics(client: AdminClient, names: list[str],
                     timeout: float) -> dict[str, _Existing]:
    metadata = client.list_topics(timeout=timeout)
    found = {}
    for name in names:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            continue
        replicas = min(len(p.replicas) for p in topic.partitions.values())
        found[name] = _Existing(len(topic.partitions), replicas)
    return found


def _create(client: AdminClient, specs: list[TopicSpec], timeout: float) -> set[str]:
    """The names of the topics this call created (one that appeared meanwhile is not)."""
    if not specs:
        return set()
    futures = client.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication,
                  config=dict(s.config)) for s in specs],
        request_timeout=timeout, operation_timeout=timeout)
    created = set()
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise TopicsError(f"could not create topic {name}: {exc}") from exc
        created.add(name)
    return created


def _wait_served(client: AdminClient, partitions: Mapping[str, int], timeout: float) -> None:
    """Wait until metadata shows every partition of the new topics with a leader (the
    broker learns of a created topic a moment after CreateTopics returns)."""
    deadline = time.monotonic() + timeout
    waiting = dict(partitions)
    while waiting:
        metadata = client.list_topics(timeout=timeout)
        for name, count in list(waiting.items()):
            topic = metadata.topics.get(name)
            if (topic is not None and topic.error is None and len(topic.partitions) == count
                    and all(p.leader >= 0 for p in topic.partitions.values())):
                del waiting[name]
        if waiting:
            if time.monotonic() > deadline:
                raise TopicsError(f"topics {sorted(waiting)} created but not served within "
                                  f"{timeout:.0f} s")
            time.sleep(_POLL_S)


def _configs(client: AdminClient, specs: list[TopicSpec],
             timeout: float) -> dict[str, dict[str, str]]:
    """The broker's values of the spec'd config keys of existing topics."""
    wanted = [s for s in specs if s.config]
    if not wanted:
        return {}
    futures = client.describe_configs(
        [ConfigResource(ResourceType.TOPIC, s.name) for s in wanted], request_timeout=timeout)
    out: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        entries = future.result(timeout=timeout)
        out[resource.name] = {k: str(e.value) for k, e in entries.items()}
    return out
