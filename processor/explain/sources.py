"""Load what an explanation needs from one of three sources (the I/O of ``explain``).

- an outputs folder (``assignments``, ``commission-adjustments``, ``dead-letters`` as
  ``replay`` or ``dump`` write them), optionally with the input folder for the
  agent-status snapshots and the member's input events;
- an input folder, replayed in memory under the given policy settings;
- the output topics (read through ``dump`` into a temporary folder) and the
  agent-status topic.

Each keeps only the member's records (and every snapshot: they are keyed by agent)
and counts the members the source holds, for the "not found" message.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.files import Decoded, find_input, read_records
from processor.codec.kinds import RecordKind
from processor.config import Settings
from processor.domain.model import (
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    Decision,
    Enrollment,
    MemberEvent,
    PlanChange,
)
from processor.domain.settings import PolicySettings
from processor.explain.build import MemberNotFoundError, Records

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Loaded:
    records: Records  # the member's records (all snapshots)
    members: int  # distinct members with decisions in the source
    source: str  # what was read, for the explanation's header
    warnings: tuple[str, ...] = ()


@dataclass
class _Collector:
    """Keeps one member's outputs and counts every member seen."""

    member_id: str
    assignments: list[AorAssignment] = field(default_factory=list)
    adjustments: list[CommissionAdjustment] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    members: set[str] = field(default_factory=set)

    def assignment(self, a: AorAssignment) -> None:
        self.members.add(a.member_id)
        if a.member_id == self.member_id:
            self.assignments.append(a)

    def adjustment(self, a: CommissionAdjustment) -> None:
        if a.member_id == self.member_id:
            self.adjustments.append(a)

    # The replay's OutputSink.
    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        for d in decisions:
            self.assignment(d.assignment)
            for adj in d.adjustments:
                self.adjustment(adj)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)  # explain() keeps the member's

    def check_found(self, source: str) -> None:
        """Before reading anything else: MemberNotFoundError naming the member count."""
        if not self.assignments:
            raise MemberNotFoundError(self.member_id, len(self.members), source)

    def loaded(self, snapshots: tuple[AgentStatusSnapshot, ...] | None,
               events: tuple[MemberEvent, ...] | None, source: str,
               warnings: list[str] | tuple[str, ...] = ()) -> Loaded:
        records = Records(tuple(self.assignments), tuple(self.adjustments), snapshots, events,
                          tuple(self.dead_letters))
        return Loaded(records, len(self.members), source, tuple(warnings))


def _decoded(path: Path, kind: RecordKind, clock: Clock,
             skipped: list[str]) -> Iterator[object]:
    bad = 0
    for item in read_records(path, kind, clock()):
        if isinstance(item, Decoded):
            yield item.record
        else:
            bad += 1
    if bad:
        skipped.append(f"{path}: {bad} record(s) did not decode and were skipped")


def _read_outputs(folder: Path, collector: _Collector, clock: Clock,
                  warnings: list[str]) -> None:
    if not folder.is_dir():
        raise ValueError(f"outputs folder {folder} does not exist")
    assignments = find_input(folder, RecordKind.ASSIGNMENT)
    if assignments is None:
        raise ValueError(f"outputs folder {folder} holds no assignments.jsonl or "
                         "assignments.avro (write one with `replay` or `dump`)")
    for record in _decoded(assignments, RecordKind.ASSIGNMENT, clock, warnings):
        assert isinstance(record, AorAssignment)
        collector.assignment(record)
    adjustments = find_input(folder, RecordKind.ADJUSTMENT)
    if adjustments is None:
        warnings.append(f"{folder} holds no commission-adjustments file")
    else:
        for record in _decoded(adjustments, RecordKind.ADJUSTMENT, clock, warnings):
            assert isinstance(record, CommissionAdjustment)
            collector.adjustment(record)
    letters = find_input(folder, RecordKind.DEAD_LETTER)
    if letters is not None:
        for record in _decoded(letters, RecordKind.DEAD_LETTER, clock, warnings):
            assert isinstance(record, DeadLetter)
            collector.dead_letter(record)


def _read_inputs(folder: Path, member_id: str, clock: Clock
                 ) -> tuple[tuple[AgentStatusSnapshot, ...] | None,
                            tuple[MemberEvent, ...] | None]:
    """Every snapshot and the member's events (None: the folder has no such file).
    Lines that do not decode are skipped: they are the outputs' dead letters already."""
    if not folder.is_dir():
        raise ValueError(f"inputs folder {folder} does not exist")
    snapshots: list[AgentStatusSnapshot] | None = None
    events: list[MemberEvent] | None = None
    ignored: list[str] = []
    for kind in (RecordKind.AGENT_STATUS, RecordKind.ENROLLMENT, RecordKind.PLAN_CHANGE):
        path = find_input(folder, kind)
        if path is None:
            continue
        if kind is RecordKind.AGENT_STATUS:
            snapshots = []
        elif events is None:
            events = []
        for record in _decoded(path, kind, clock, ignored):
            if isinstance(record, AgentStatusSnapshot):
                assert snapshots is not None
                snapshots.append(record)
            elif isinstance(record, Enrollment | PlanChange) and record.member_id == member_id:
                assert events is not None
                events.append(record)
    if snapshots is None and events is None:
        raise ValueError(f"inputs folder {folder} holds none of agent-status, enrollments, "
                         "plan-changes (.jsonl or .avro)")
    return (None if snapshots is None else tuple(snapshots),
            None if events is None else tuple(events))


def from_outputs(outputs: Path, inputs: Path | None, member_id: str,
                 clock: Clock) -> Loaded:
    collector = _Collector(member_id)
    warnings: list[str] = []
    _read_outputs(outputs, collector, clock, warnings)
    collector.check_found(f"outputs {outputs}")
    snapshots = events = None
    source = f"outputs {outputs}"
    if inputs is not None:
        snapshots, events = _read_inputs(inputs, member_id, clock)
        source += f", inputs {inputs}"
    return collector.loaded(snapshots, events, source, warnings)


def from_replay(folder: Path, policy: PolicySettings, member_id: str,
                clock: Clock) -> Loaded:
    """Replay `folder` in memory under `policy` (a what-if needs no outputs folder)."""
    from processor.files.replay import replay

    collector = _Collector(member_id)
    replay(folder, policy, collector, clock)
    source = f"replay of {folder} under {policy.policy_version}"
    collector.check_found(source)
    snapshots, events = _read_inputs(folder, member_id, clock)
    return collector.loaded(snapshots, events, source)


_POLL_S = 0.2


def read_topic(settings: Settings, topic: str, kind: RecordKind, *,
               timeout: float = 30.0, idle_timeout: float = 10.0
               ) -> tuple[list[object], list[str]]:
    """Every record of `topic` from the start of each partition to its end offset as of
    now (no consumer group, nothing committed), decoded; and the problems met."""
    from confluent_kafka import KafkaError, TopicPartition

    from processor.kafka.clients import consumer
    from processor.kafka.load import MissingTopicsError
    from processor.kafka.registry import wire_codec

    codec = wire_codec(settings)
    config: dict[str, str | int | float | bool] = {
        "group.id": f"{settings.application_id}-explain-{uuid.uuid4().hex}",
        "enable.auto.commit": False, "enable.partition.eof": True,
        "isolation.level": "read_committed", "auto.offset.reset": "earliest"}
    client = consumer(settings, **config)
    records: list[object] = []
    problems: list[str] = []
    try:
        metadata = client.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise MissingTopicsError(f"topic {topic} does not exist")
        ends: dict[int, int] = {}
        assignment = []
        for number in sorted(metadata.partitions):
            low, high = client.get_watermark_offsets(TopicPartition(topic, number),
                                                     timeout=timeout, cached=False)
            if high > low:
                ends[number] = high
                assignment.append(TopicPartition(topic, number, low))
        if assignment:
            client.assign(assignment)
        last = time.monotonic()
        while ends:
            message = client.poll(_POLL_S)
            if message is None:
                if time.monotonic() - last > idle_timeout:
                    problems.append(f"{topic}: partitions {sorted(ends)} not read to the end "
                                    f"within {idle_timeout:g} s")
                    break
                continue
            last = time.monotonic()
            number, offset, error = message.partition(), message.offset(), message.error()
            if number not in ends or offset is None:
                continue
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF and offset >= ends[number]:
                    del ends[number]
                elif error.fatal():
                    raise RuntimeError(f"{topic}: {error.str()}")
                continue
            if offset < ends[number]:
                try:
                    records.append(codec.decode(kind, message.value(), message.headers()))
                except DecodeError as exc:
                    problems.append(f"{topic}[{number}]@{offset}: {exc.error_type}: "
                                    f"{exc.message}")
            if offset >= ends[number] - 1:
                del ends[number]
    finally:
        client.close()
    return records, problems


def from_topics(settings: Settings, member_id: str, clock: Clock, *,
                timeout: float = 30.0, idle_timeout: float = 10.0) -> Loaded:
    """The output topics (through ``dump``) and the agent-status topic."""
    from processor.kafka.dump import dump_topics

    collector = _Collector(member_id)
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aor-explain-") as folder:
        report = dump_topics(settings, Path(folder), "jsonl", idle_timeout, timeout=timeout)
        warnings.extend(f"{t}: {n} record(s) did not decode"
                        for t, n in report.undecodable.items())
        if report.incomplete:
            warnings.append(f"not read to the end: {', '.join(report.incomplete)}")
        _read_outputs(Path(folder), collector, clock, warnings)
    source = (f"topics {settings.assignments_topic}, {settings.adjustments_topic}, "
              f"{settings.agent_status_topic} at {settings.bootstrap_servers}")
    collector.check_found(source)
    records, problems = read_topic(settings, settings.agent_status_topic,
                                   RecordKind.AGENT_STATUS, timeout=timeout,
                                   idle_timeout=idle_timeout)
    warnings.extend(problems)
    snapshots = tuple(r for r in records if isinstance(r, AgentStatusSnapshot))
    return collector.loaded(snapshots, None, source, warnings)


__all__ = ["Loaded", "from_outputs", "from_replay", "from_topics", "read_topic"]
