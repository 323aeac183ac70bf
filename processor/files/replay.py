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

Clock = Callable[[], datetime]
MergeKey = tuple[datetime, int, str]


class OutputSink(Protocol):
    def decisions(self, decisions: tuple[Decision, ...]) -> None: ...

    def dead_letter(self, letter: DeadLetter) -> None: ...


@dataclass(frozen=True, slots=True)
class _Input:
    key: MergeKey
    record: AgentStatusSnapshot | Enrollment | PlanChange
    source: str
    offset: int
    raw: bytes


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
                summary: RunSummary) -> list[_Input]:
    inputs: list[_Input] = []
    for kind, path in files.items():
        for item in read_records(path, kind, clock()):
            if isinstance(item, DeadLetter):
                summary.count_dead_letter(item)
                sink.dead_letter(item)
                continue
            record = item.record
            assert isinstance(record, AgentStatusSnapshot | Enrollment | PlanChange)
            summary.inputs[kind.value] += 1
            inputs.append(_Input(merge_key(record), record, path.name, item.offset, item.raw))
    inputs.sort(key=lambda i: i.key)
    return inputs


def replay(folder: Path, policy: PolicySettings, sink: OutputSink, clock: Clock,
           on_progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Decide every input of `folder`, sending outputs to `sink` as they are made."""
    summary = RunSummary()
    inputs = _decode_all(input_files(folder), clock, sink, summary)
    engine = Engine(policy)
    total = len(inputs)
    for n, item in enumerate(inputs, start=1):
        record = item.record
        if isinstance(record, AgentStatusSnapshot):
            result = engine.on_snapshot(record)
        else:
            result = engine.on_event(record)
        if result.rejection is not None:
            letter = DeadLetter(
                source=item.source, partition=None, offset=item.offset, key=None,
                value=item.raw, error_type=result.rejection.error_type.value,
                error_message=result.rejection.message, failed_at=clock())
            summary.count_dead_letter(letter)
            sink.dead_letter(letter)
        summary.duplicates += result.duplicate
        if result.decisions:
            summary.count_decisions(result.decisions)
            sink.decisions(result.decisions)
        if on_progress is not None and (n % 2000 == 0 or n == total):
            on_progress(n, total)
    summary.members = len(engine.members)
    return summary


def iter_inputs(folder: Path, clock: Clock) -> Iterator[Decoded | DeadLetter]:
    """Every decoded input and dead letter of a folder, file by file (for tools)."""
    for kind, path in input_files(folder).items():
        yield from read_records(path, kind, clock())
