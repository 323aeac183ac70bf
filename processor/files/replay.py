"""Replay a folder of input files through the engine, in contract order.

Inputs are merged by (recorded_at, snapshots first, id) — each member's outputs are
then a function of the merged sequence, which is what the Kafka runtime reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import Decoded, find_input, read_records
from processor.codec.kinds import INPUT_KINDS, RecordKind
from processor.domain.engine import Engine
from processor.domain.model import AgentStatusSnapshot, Decision, Enrollment, PlanChange
from processor.domain.settings import PolicySettings
from processor.files.summary import RunSummary
from processor.gc_tuning import long_lived_heap

Clock = Callable[[], datetime]
MergeKey = tuple[datetime, int, str]


class OutputSink(Protocol):
    def decisions(self, decisions: tuple[Decision, ...]) -> None: ...

    def dead_letter(self, letter: DeadLetter) -> None: ...


@dataclass(frozen=True, slots=True)
class Input:
    """One decoded input and where it came from (a file line or a topic record)."""

    key: MergeKey
    record: AgentStatusSnapshot | Enrollment | PlanChange
    source: str
    offset: int
    raw: bytes
    partition: int | None = None
    raw_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """Outputs are emitted for inputs recorded in [start, end); earlier inputs are
    folded into state silently and later ones are not read."""

    start: datetime | None = None
    end: datetime | None = None

    def emits(self, recorded_at: datetime) -> bool:
        return self.start is None or recorded_at >= self.start

    def reads(self, recorded_at: datetime) -> bool:
        return self.end is None or recorded_at < self.end


def merge_key(record: AgentStatusSnapshot | Enrollment | PlanChange) -> MergeKey:
    """Arrival order of contract.md: recorded_at, snapshots before events, then id."""
    if isinstance(record, AgentStatusSnapshot):
        return (record.recorded_at, 0, record.snapshot_id)
    return (record.recorded_at, 1, record.event_id)


def input_files(folder: Path) -> dict[RecordKind, Path]:
    if not folder.is_dir():
        raise ValueError(f"input folder {folder} does not exist")
    found = {kind: path for kind in INPUT_KINDS if (path := find_input(folder, kind))}
    if not found:
        stems = ", ".join(f"{k.value}.jsonl|.avro" for k in INPUT_KINDS)
        raise ValueError(f"input folder {folder} holds none of {stems}")
    return found


def _decode_all(files: dict[RecordKind, Path], clock: Clock, sink: OutputSink,
                summary: RunSummary) -> list[Input]:
    inputs: list[Input] = []
    for kind, path in files.items():
        for item in read_records(path, kind, clock()):
            if isinstance(item, DeadLetter):
                summary.count_dead_letter(item)
                sink.dead_letter(item)
                continue
            record = item.record
            assert isinstance(record, AgentStatusSnapshot | Enrollment | PlanChange)
            summary.inputs[kind.value] += 1
            inputs.append(Input(merge_key(record), record, path.name, item.offset, item.raw))
    inputs.sort(key=lambda i: i.key)
    return inputs


def replay(folder: Path, policy: PolicySettings, sink: OutputSink, clock: Clock,
           on_progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Decide every input of `folder`, sending outputs to `sink` as they are made."""
    summary = RunSummary()
    with long_lived_heap():
        inputs = _decode_all(input_files(folder), clock, sink, summary)
        return replay_inputs(inputs, policy, sink, clock, on_progress, summary=summary)


class _Silent:
    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        pass

    def dead_letter(self, letter: DeadLetter) -> None:
        pass


def replay_inputs(inputs: list[Input], policy: PolicySettings, sink: OutputSink, clock: Clock,
                  on_progress: Callable[[int, int], None] | None = None,
                  window: Window = Window(), summary: RunSummary | None = None,
                  engine: Engine | None = None) -> RunSummary:
    """The one replay loop: `inputs` in merge order through one Engine."""
    with long_lived_heap():
        return _replay_inputs(inputs, policy, sink, clock, on_progress, window, summary, engine)


def _replay_inputs(inputs: list[Input], policy: PolicySettings, sink: OutputSink, clock: Clock,
                   on_progress: Callable[[int, int], None] | None, window: Window,
                   summary: RunSummary | None, engine: Engine | None) -> RunSummary:
    summary = summary if summary is not None else RunSummary()
    engine = engine if engine is not None else Engine(policy)
    total = len(inputs)
    silent = _Silent()
    counted = RunSummary()
    for n, item in enumerate(inputs, start=1):
        record = item.record
        if not window.reads(record.recorded_at):
            break
        emitting = window.emits(record.recorded_at)
        out: OutputSink = sink if emitting else silent
        tally = summary if emitting else counted
        if isinstance(record, AgentStatusSnapshot):
            result = engine.on_snapshot(record)
        else:
            result = engine.on_event(record)
        if result.rejection is not None:
            letter = DeadLetter(
                source=item.source, partition=item.partition, offset=item.offset,
                key=item.raw_key, value=item.raw, error_type=result.rejection.error_type.value,
                error_message=result.rejection.message, failed_at=clock())
            tally.count_dead_letter(letter)
            out.dead_letter(letter)
        tally.duplicates += result.duplicate
        if result.decisions:
            tally.count_decisions(result.decisions)
            out.decisions(result.decisions)
        if on_progress is not None and (n % 2000 == 0 or n == total):
            on_progress(n, total)
    summary.members = len(engine.members)
    return summary


def iter_inputs(folder: Path, clock: Clock) -> Iterator[Decoded | DeadLetter]:
    """Every decoded input and dead letter of a folder, file by file (for tools)."""
    for kind, path in input_files(folder).items():
        yield from read_records(path, kind, clock())
