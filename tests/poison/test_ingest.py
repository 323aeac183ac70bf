"""Poison records through the Kafka runtime's own path, in-process and in both wire
formats: ``KafkaProcessor._ingest`` (decode, key check), the partition worker (merge,
validation) and the agent feed (agent-status poison, reported once by partition 0).

Confluent mode runs against confluent-kafka's mock Schema Registry (``mock://``), which
only exists in-process; that is where wrong schema ids are tried. The broker suite
(``test_kafka.py``) covers the fingerprint mode end to end.

For every hypothesis example: each poison record is exactly one dead letter with its
topic, partition, offset, original key and value and the expected ``error_type``; no
other dead letter appears; and the decisions equal those of the same good records
without the poison.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.codec.dead_letter import DeadLetter
from processor.codec.jsonl import encode_line
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec, key_of
from processor.config import Settings, WireFormat, load_settings
from processor.domain.engine import Engine
from processor.domain.model import AgentStatusSnapshot, Enrollment, PlanChange
from processor.generate.history import GeneratedHistory, GeneratorConfig, generate
from processor.kafka.load import timestamp_ms
from processor.kafka.registry import RegistryAdapter
from processor.policy_io.build import build_policy
from processor.runtime.agent_feed import AgentFeed
from processor.runtime.loop import KafkaProcessor
from processor.runtime.metrics import Health, Metrics
from processor.runtime.partition import PartitionWorker, Produced
from tests.poison.corrupt import Chooser, DrawChooser, RandomChooser
from tests.poison.wire import WirePoison, wire_poison

T = TypeVar("T")
FAILED_AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
# AOR_POISON_EXAMPLES=1000 fuzzes longer.
PROFILE = settings(max_examples=int(os.environ.get("AOR_POISON_EXAMPLES", "25")), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MAX_BAD_PER_TOPIC = 5
AGENT_PARTITIONS = 2


def clock() -> datetime:
    return FAILED_AT


@dataclass
class FakeMessage:
    """What confluent-kafka's Message offers the runtime."""

    _topic: str
    _partition: int
    _offset: int
    _key: bytes | None
    _value: bytes | None
    _headers: list[tuple[str, bytes]] | None
    _timestamp: int

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)  # TIMESTAMP_CREATE_TIME

    def error(self) -> None:
        return None


@dataclass(frozen=True)
class Mode:
    settings: Settings
    codec: WireCodec
    kind_ids: dict[RecordKind, int] = field(default_factory=dict)
    known_ids: frozenset[int] = frozenset()

    def __repr__(self) -> str:
        return f"Mode({self.codec.wire_format.value})"


@pytest.fixture(scope="module")
def history() -> GeneratedHistory:
    # A history with late snapshots that correct earlier decisions (9 corrections): a
    # poison record must not change when a snapshot is applied.
    return generate(GeneratorConfig(members=100, agents=12, seed=1))


@pytest.fixture(scope="module", params=[WireFormat.FINGERPRINT, WireFormat.CONFLUENT],
                ids=lambda f: f.value)
def mode(request: pytest.FixtureRequest) -> Iterator[Mode]:
    wire_format: WireFormat = request.param
    # Every stream is one fake partition 0: the partition check (tests/integration/
    # test_partitioning.py) is not what these poison records are about.
    settings = load_settings(wire_format=wire_format.value,
                             schema_registry_url=f"mock://{uuid.uuid4().hex}",
                             application_id="poison-ingest", metrics_port=0,
                             input_partitioner="off")
    if wire_format is WireFormat.FINGERPRINT:
        yield Mode(settings, WireCodec(WireFormat.FINGERPRINT))
        return
    with RegistryAdapter.from_settings(settings, auto_register=True) as adapter:
        kind_ids = adapter.register_all()
        known = frozenset(i for i in range(0, 500) if adapter.writer_schema(i) is not None)
        assert set(kind_ids.values()) <= known
        yield Mode(settings, WireCodec(WireFormat.CONFLUENT, adapter), kind_ids, known)


@dataclass
class Stream:
    """The messages of one topic, in offset order, and the poison among them."""

    topic: str
    partition: int = 0
    messages: list[FakeMessage] = field(default_factory=list)
    poison: dict[int, WirePoison] = field(default_factory=dict)  # by offset

    def add(self, key: bytes | None, value: bytes | None,
            headers: list[tuple[str, bytes]] | None, ts: int) -> int:
        offset = len(self.messages)
        self.messages.append(FakeMessage(self.topic, self.partition, offset, key, value,
                                         headers, ts))
        return offset


def build(mode: Mode, kind: RecordKind, records: Sequence[Any], chooser: Chooser | None,
          partition: int = 0, first: Sequence[WirePoison] = ()) -> Stream:
    """Good records in order, with poison (when a chooser is given) between them, each
    stamped with the timestamp of the good record before it; ``first`` goes before all."""
    stream = Stream(_topic(mode.settings, kind), partition)
    ts = timestamp_ms(records[0].recorded_at)
    for poison in first:
        stream.poison[stream.add(poison.key, poison.value, poison.headers, ts)] = poison
    bad: list[tuple[int, Any]] = []
    if chooser is not None:
        bad = sorted(((chooser.integer(0, len(records)),
                       records[chooser.integer(0, len(records) - 1)])
                      for _ in range(chooser.integer(0, MAX_BAD_PER_TOPIC))),
                     key=lambda b: b[0])
    for i in range(len(records) + 1):
        while bad and bad[0][0] == i:
            assert chooser is not None
            poison = wire_poison(kind, bad.pop(0)[1], mode.codec, chooser, mode.kind_ids,
                                 mode.known_ids)
            offset = stream.add(poison.key, poison.value, poison.headers, ts)
            stream.poison[offset] = poison
        if i < len(records):
            value, headers = mode.codec.encode(records[i])
            ts = timestamp_ms(records[i].recorded_at)
            stream.add(key_of(records[i]), value, headers or None, ts)
    return stream


def _topic(settings: Settings, kind: RecordKind) -> str:
    return {RecordKind.ENROLLMENT: settings.enrollments_topic,
            RecordKind.PLAN_CHANGE: settings.plan_changes_topic,
            RecordKind.AGENT_STATUS: settings.agent_status_topic}[kind]


def run(mode: Mode, enrollments: Stream, plan_changes: Stream,
        agent_status: list[Stream]) -> tuple[list[bytes], list[DeadLetter]]:
    """Everything through the runtime's path; (outputs as JSON lines, dead letters)."""
    s = mode.settings
    policy = build_policy(s)
    processor = KafkaProcessor(s, policy, mode.codec, Metrics(), Health(), clock)
    feed = AgentFeed(None, s.agent_status_topic, mode.codec, processor.table, clock)
    for p in range(AGENT_PARTITIONS):
        feed.items[p], feed._offsets[p], feed.last_timestamp[p] = [], [], -1
    for stream in agent_status:
        for msg in stream.messages:
            feed._add(msg)
    for p in range(AGENT_PARTITIONS):
        feed.at_end[p] = True
    worker = PartitionWorker(0, Engine(policy, agents=processor.table), {},
                             (s.enrollments_topic, s.plan_changes_topic))
    processor.workers[0] = worker
    processor._ingest([*enrollments.messages, *plan_changes.messages])
    worker.mark_end(s.enrollments_topic)
    worker.mark_end(s.plan_changes_topic)
    out = Produced()
    while worker.step(feed, out, 1000, 0.0, lambda: 0.0, clock):
        pass
    assert worker.idle and not feed.has_pending(worker.applied)
    outputs = [encode_line(x) for d in out.decisions
               for x in (d.assignment, *d.adjustments)]
    return outputs, out.letters


def streams(mode: Mode, history: GeneratedHistory, chooser: DrawChooser | None
            ) -> tuple[Stream, Stream, list[Stream]]:
    snapshots: list[AgentStatusSnapshot] = list(history.snapshots)
    halves = [snapshots[p::AGENT_PARTITIONS] for p in range(AGENT_PARTITIONS)]
    enrollments: list[Enrollment] = list(history.enrollments)
    changes: list[PlanChange] = list(history.plan_changes)
    return (build(mode, RecordKind.ENROLLMENT, enrollments, chooser),
            build(mode, RecordKind.PLAN_CHANGE, changes, chooser),
            [build(mode, RecordKind.AGENT_STATUS, half, chooser, partition=p)
             for p, half in enumerate(halves)])


@pytest.fixture(scope="module")
def clean(mode: Mode, history: GeneratedHistory) -> list[bytes]:
    """The outputs of the good records alone."""
    outputs, letters = run(mode, *streams(mode, history, None))
    assert not letters and len(outputs) > 200
    assert sum(b'"revision":0,' not in line for line in outputs if b'"decision_id"' in line
               and b'"source_event_type"' in line) >= 5, "too few corrections to matter"
    return outputs


@PROFILE
@given(data=st.data())
def test_poison_through_the_runtime_path_is_one_dead_letter_each(
        mode: Mode, clean: list[bytes], history: GeneratedHistory, data: st.DataObject
        ) -> None:
    clean_outputs = clean

    enrollments, plan_changes, agent_status = streams(mode, history, DrawChooser(data))
    outputs, letters = run(mode, enrollments, plan_changes, agent_status)

    by_place: dict[tuple[str, int | None, int | None], list[DeadLetter]] = {}
    for letter in letters:
        by_place.setdefault((letter.source, letter.partition, letter.offset), []).append(letter)
    problems: list[str] = []
    for stream in (enrollments, plan_changes, *agent_status):
        for offset, poison in stream.poison.items():
            where = f"{stream.topic}[{stream.partition}]@{offset} ({poison.recipe})"
            found = by_place.pop((stream.topic, stream.partition, offset), [])
            if len(found) != 1:
                problems.append(f"{where}: {len(found)} dead letters")
                continue
            letter = found[0]
            if (letter.key, letter.value) != (poison.key, poison.value):
                problems.append(f"{where}: key or value is not the original")
            if letter.error_type != poison.error_type:
                problems.append(f"{where}: {letter.error_type} != {poison.error_type}: "
                                f"{letter.error_message[:200]}")
            if not letter.error_message or letter.failed_at != FAILED_AT:
                problems.append(f"{where}: no message or wrong failed_at")
    for place, extra in by_place.items():
        problems.append(f"unexpected dead letter at {place}: {extra[0].error_type} "
                        f"{extra[0].error_message[:200]}")
    assert not problems, "\n".join(problems)
    assert outputs == clean_outputs, "the good records were not decided as without poison"


class _Recipe(RandomChooser):
    """Choices from a seeded Random, but the payload recipe given."""

    def __init__(self, recipe: str) -> None:
        super().__init__(random.Random(recipe))
        self.recipe = recipe

    def choice(self, options: Sequence[T]) -> T:
        for option in options:
            if option == self.recipe:
                return option
        return super().choice(options)


def test_a_refused_event_recorded_later_applies_no_snapshot_early(
        mode: Mode, clean: list[bytes], history: GeneratedHistory) -> None:
    """Copies of the last events with a bad state, a bad effective date or an unknown
    plan year, at the very start of their topics: the runtime used to apply every
    snapshot recorded up to such an event's recorded_at before refusing it, so later
    snapshots were applied before the events they correct, and those corrections were
    lost."""
    enrollments, changes = list(history.enrollments), list(history.plan_changes)
    poison = {kind: [wire_poison(kind, records[-1 - n], mode.codec, _Recipe(recipe),
                                 recipe="payload")
                     for n, recipe in enumerate(("bad-state", "bad-effective-date",
                                                 "unknown-plan-year"))]
              for kind, records in ((RecordKind.ENROLLMENT, enrollments),
                                    (RecordKind.PLAN_CHANGE, changes))}
    streams_ = (build(mode, RecordKind.ENROLLMENT, enrollments, None,
                      first=poison[RecordKind.ENROLLMENT]),
                build(mode, RecordKind.PLAN_CHANGE, changes, None,
                      first=poison[RecordKind.PLAN_CHANGE]))
    snapshots = list(history.snapshots)
    agent_status = [build(mode, RecordKind.AGENT_STATUS, snapshots[p::AGENT_PARTITIONS], None,
                          partition=p) for p in range(AGENT_PARTITIONS)]
    outputs, letters = run(mode, *streams_, agent_status)
    assert sorted(letter.error_type for letter in letters) == sorted(
        p.error_type for ps in poison.values() for p in ps)
    assert {p.error_type for ps in poison.values() for p in ps} == {
        "INVALID_STATE", "INVALID_EFFECTIVE_DATE", "UNKNOWN_PLAN_YEAR"}
    assert outputs == clean
