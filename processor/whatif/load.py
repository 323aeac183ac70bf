"""The two sides of a what-if: historical outputs from files (or the output topics) and
the scenario, replayed in memory through the one decision path (`files.replay`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import find_input, read_records
from processor.codec.kinds import FileFormat, RecordKind
from processor.config import Settings
from processor.domain.model import AorAssignment, CommissionAdjustment, Decision
from processor.domain.settings import PolicySettings
from processor.files.replay import Clock, replay
from processor.files.summary import RunSummary
from processor.whatif.diff import RunOutputs


class BaselineUnavailableError(Exception):
    """The output topics could not be dumped (Kafka unreachable, dump incomplete)."""


class MemorySink:
    """A replay sink that keeps the outputs in memory, in emission order."""

    def __init__(self) -> None:
        self.assignments: list[AorAssignment] = []
        self.adjustments: list[CommissionAdjustment] = []
        self.dead_letters = 0

    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        for decision in decisions:
            self.assignments.append(decision.assignment)
            self.adjustments.extend(decision.adjustments)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters += 1

    def outputs(self) -> RunOutputs:
        return RunOutputs(tuple(self.assignments), tuple(self.adjustments), self.dead_letters)


def run_scenario(folder: Path, policy: PolicySettings, clock: Clock,
                 ) -> tuple[RunOutputs, RunSummary]:
    """Replay the input folder under `policy`, in memory."""
    sink = MemorySink()
    summary = replay(folder, policy, sink, clock)
    return sink.outputs(), summary


def load_outputs(folder: Path, failed_at: datetime) -> RunOutputs:
    """Read `assignments` and `commission-adjustments` (.jsonl or .avro) of an output
    folder, as written by `replay` or `dump`; `dead-letters` is counted when present.

    Raises ValueError when a file is missing or a record does not decode: a diff against
    part of the history would mislead.
    """
    if not folder.is_dir():
        raise ValueError(f"baseline folder {folder} does not exist")
    assignments = _read(folder, RecordKind.ASSIGNMENT, failed_at, required=True)
    adjustments = _read(folder, RecordKind.ADJUSTMENT, failed_at, required=True)
    letters = _read(folder, RecordKind.DEAD_LETTER, failed_at, required=False)
    return RunOutputs(
        tuple(r for r in assignments if isinstance(r, AorAssignment)),
        tuple(r for r in adjustments if isinstance(r, CommissionAdjustment)),
        len(letters))


def _read(folder: Path, kind: RecordKind, failed_at: datetime, *, required: bool,
          ) -> list[object]:
    path = find_input(folder, kind)
    if path is None:
        if required:
            raise ValueError(f"baseline folder {folder} holds no {kind.value}.jsonl or "
                             f"{kind.value}.avro")
        return []
    records: list[object] = []
    for item in read_records(path, kind, failed_at):
        if isinstance(item, DeadLetter):
            raise ValueError(f"baseline {path.name}, record {item.offset}: "
                             f"{item.error_type}: {item.error_message}")
        records.append(item.record)
    return records


def dump_baseline(settings: Settings, folder: Path) -> Path:
    """Dump the live output topics into `folder` (JSON Lines) and return it."""
    from confluent_kafka import KafkaException

    from processor.kafka.dump import dump_topics
    from processor.kafka.registry import RegistryError

    try:
        report = dump_topics(settings, folder, FileFormat.JSONL)
    except (KafkaException, RegistryError, ValueError) as exc:
        raise BaselineUnavailableError(
            f"could not dump the output topics ({settings.bootstrap_servers}): {exc}"
        ) from exc
    if not report.ok:
        problems = [f"not read to the end: {', '.join(report.incomplete)}"] if report.incomplete \
            else []
        problems += [f"{topic}: {n} record(s) did not decode"
                     for topic, n in report.undecodable.items()]
        raise BaselineUnavailableError("the dump of the output topics is incomplete: "
                                       + "; ".join(problems))
    return folder


__all__ = [
    "BaselineUnavailableError",
    "MemorySink",
    "dump_baseline",
    "load_outputs",
    "run_scenario",
]
