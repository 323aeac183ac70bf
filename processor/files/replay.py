"""Replay a folder of input files through the engine, in contract order.

Inputs are merged by (recorded_at, snapshots first, id) — each member's outputs are
then a function of the merged sequence, which is what the Kafka runtime reproduces.

Small folders are decoded into one sorted list. Large ones are not held: a first pass
decodes every file (writing the dead letters and counting), keeping only the few inputs
that are out of merge order within their file; the replay then reads each file again and
merges its in-order inputs with the sorted out-of-order ones (spilled to temporary files
when there are many). About IN_MEMORY_INPUTS decoded inputs are held at most, whatever the
size of the files; the price is decoding each input twice.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import Decoded, check_input_header, find_input, read_records
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
    for kind, path in found.items():
        check_input_header(path, kind)  # before a command writes anything
    return found


#: Up to this many decoded inputs, the replay holds them all in a list and sorts it. Beyond
#: it, the input side is streamed (see `_decode_all`). It also bounds the out-of-order inputs
#: held in memory before a sorted run of them is spilled to a temporary file.
IN_MEMORY_INPUTS = 200_000
_SPILL_BATCH = 1_000  # inputs per pickle in a spilled run


class SizedInputs(Protocol):
    """Inputs in merge order, with their count known up front (for progress)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Input]: ...


FileRank = dict[str, int]  # file name -> its position among the input files


def _order(rank: FileRank) -> Callable[[Input], tuple[MergeKey, int, int]]:
    """The total order of a stable sort by merge key of the inputs read file after file."""
    def order(item: Input) -> tuple[MergeKey, int, int]:
        return (item.key, rank[item.source], item.offset)
    return order


def _fingerprint(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(slots=True)
class _FilePass:
    """What the decode pass learned about one input file, to read it again in order."""

    kind: RecordKind
    path: Path
    failed_at: datetime
    fingerprint: tuple[int, int, int, int]
    in_order: int = 0  # inputs that kept the file's merge order (the others are `late`)


class _FileOrder:
    """Whether each input of a file keeps the file's merge order: its key is not below the
    greatest key before it. The decode pass and the re-read apply this one rule, so they
    agree on which inputs are late."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: MergeKey | None = None

    def keeps(self, key: MergeKey) -> bool:
        if self._last is not None and key < self._last:
            return False
        self._last = key
        return True


def _in_order(file: _FilePass) -> Iterator[Input]:
    """The file's inputs that are in merge order, read and decoded again (its dead letters and
    out-of-order inputs were dealt with by the decode pass)."""
    if _fingerprint(file.path) != file.fingerprint:
        raise RuntimeError(f"input file {file.path} changed during the replay")
    order = _FileOrder()
    count = 0
    for item in read_records(file.path, file.kind, file.failed_at):
        if isinstance(item, DeadLetter):
            continue
        record = item.record
        assert isinstance(record, AgentStatusSnapshot | Enrollment | PlanChange)
        key = merge_key(record)
        if not order.keeps(key):
            continue
        count += 1
        yield Input(key, record, file.path.name, item.offset, item.raw)
    if count != file.in_order:
        raise RuntimeError(f"input file {file.path} changed during the replay")


def _spill_file() -> IO[bytes]:
    """An unnamed temporary file (unlinked at once: nothing is left behind, even by a crash)."""
    return tempfile.TemporaryFile(prefix="aor-replay-")


class _LateInputs:
    """Inputs that came later in their file than an input with a greater merge key, kept as
    sorted runs: the current run in memory, full runs pickled to unnamed temporary files."""

    def __init__(self, limit: int, order: Callable[[Input], tuple[MergeKey, int, int]]) -> None:
        self._limit = max(1, limit)
        self._order = order
        self._pending: list[Input] = []
        self._spilled: list[IO[bytes]] = []
        self._files = ExitStack()

    def add(self, item: Input) -> None:
        self._pending.append(item)
        if len(self._pending) > self._limit:
            self._spill()

    def _spill(self) -> None:
        run = sorted(self._pending, key=self._order)
        self._pending = []
        stream = self._files.enter_context(_spill_file())
        self._spilled.append(stream)
        for start in range(0, len(run), _SPILL_BATCH):
            pickle.dump(run[start : start + _SPILL_BATCH], stream, pickle.HIGHEST_PROTOCOL)
        stream.flush()

    @property
    def spilled_runs(self) -> int:
        return len(self._spilled)

    def runs(self) -> list[Iterator[Input]]:
        self._pending.sort(key=self._order)
        pending, self._pending = self._pending, []
        return [*(self._read(stream) for stream in self._spilled), iter(pending)]

    @staticmethod
    def _read(stream: IO[bytes]) -> Iterator[Input]:
        stream.seek(0)
        while True:
            try:
                batch: list[Input] = pickle.load(stream)
            except EOFError:
                return
            yield from batch

    def close(self) -> None:
        self._pending = []
        self._spilled = []
        self._files.close()


class MergedInputs:
    """The inputs of large files in merge order, without holding them: each file's in-order
    inputs are decoded again as they are merged with the sorted runs of the late ones.
    Iterable once; `close` (or the end of the iteration) deletes the spilled runs."""

    def __init__(self, files: list[_FilePass], late: _LateInputs, rank: FileRank,
                 total: int) -> None:
        self._files = files
        self._late = late
        self._order = _order(rank)
        self._total = total
        self._used = False

    def __len__(self) -> int:
        return self._total

    @property
    def spilled_runs(self) -> int:
        """Sorted runs of out-of-order inputs written to temporary files."""
        return self._late.spilled_runs

    def __iter__(self) -> Iterator[Input]:
        if self._used:
            raise RuntimeError("merged inputs are read once")
        self._used = True
        return self._merge()

    def _merge(self) -> Iterator[Input]:
        try:
            streams = [_in_order(file) for file in self._files if file.in_order]
            yield from heapq.merge(*streams, *self._late.runs(), key=self._order)
        finally:
            self.close()

    def close(self) -> None:
        self._late.close()

    def __enter__(self) -> MergedInputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode_all(files: dict[RecordKind, Path], clock: Clock, sink: OutputSink,
                summary: RunSummary, in_memory: int | None = None) -> SizedInputs:
    """Read every file in order, sending its dead letters to `sink` and counting its inputs.

    Up to `in_memory` (default IN_MEMORY_INPUTS) inputs, the result is the sorted list of
    them. Beyond it the decoded inputs are let go and the result is a MergedInputs: each file
    is read and decoded again while the replay merges, and only the inputs that are out of
    merge order within their file are kept (in sorted runs, spilled to temporary files beyond
    `in_memory`). Both give the inputs in the same order, that of a stable sort by merge key:
    ties in file order, then line (or record) order.
    """
    limit = IN_MEMORY_INPUTS if in_memory is None else in_memory
    rank: FileRank = {path.name: n for n, path in enumerate(files.values())}
    late = _LateInputs(limit, _order(rank))
    kept: list[Input] | None = []
    passes: list[_FilePass] = []
    total = 0
    try:
        for kind, path in files.items():
            file = _FilePass(kind, path, clock(), _fingerprint(path))
            passes.append(file)
            order = _FileOrder()
            for item in read_records(path, kind, file.failed_at):
                if isinstance(item, DeadLetter):
                    summary.count_dead_letter(item)
                    sink.dead_letter(item)
                    continue
                record = item.record
                assert isinstance(record, AgentStatusSnapshot | Enrollment | PlanChange)
                summary.inputs[kind.value] += 1
                total += 1
                key = merge_key(record)
                in_order = order.keeps(key)
                if in_order:
                    file.in_order += 1
                if in_order and kept is None:
                    continue  # read again in the merge
                entry = Input(key, record, path.name, item.offset, item.raw)
                if not in_order:
                    late.add(entry)
                if kept is not None:
                    kept.append(entry)
                    if len(kept) > limit:
                        kept = None  # too many to hold: stream them (see MergedInputs)
    except BaseException:
        late.close()
        raise
    if kept is None:
        return MergedInputs(passes, late, rank, total)
    late.close()
    kept.sort(key=lambda i: i.key)
    return kept


def replay(folder: Path, policy: PolicySettings, sink: OutputSink, clock: Clock,
           on_progress: Callable[[int, int], None] | None = None, *,
           in_memory: int | None = None, engine: Engine | None = None) -> RunSummary:
    """Decide every input of `folder`, sending outputs to `sink` as they are made.

    All dead letters of undecodable records come first, in file order, then the decisions
    (and the dead letters of rejected inputs) in merge order. Inputs beyond `in_memory`
    (default IN_MEMORY_INPUTS) are streamed rather than held: the files must not change
    while the replay runs.
    """
    summary = RunSummary()
    with long_lived_heap():
        inputs = _decode_all(input_files(folder), clock, sink, summary, in_memory)
        try:
            return replay_inputs(inputs, policy, sink, clock, on_progress, summary=summary,
                                 engine=engine)
        finally:
            if isinstance(inputs, MergedInputs):
                inputs.close()


class _Silent:
    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        pass

    def dead_letter(self, letter: DeadLetter) -> None:
        pass


def replay_inputs(inputs: SizedInputs, policy: PolicySettings, sink: OutputSink, clock: Clock,
                  on_progress: Callable[[int, int], None] | None = None,
                  window: Window = Window(), summary: RunSummary | None = None,
                  engine: Engine | None = None) -> RunSummary:
    """The one replay loop: `inputs` in merge order through one Engine."""
    with long_lived_heap():
        return _replay_inputs(inputs, policy, sink, clock, on_progress, window, summary, engine)


def _replay_inputs(inputs: SizedInputs, policy: PolicySettings, sink: OutputSink, clock: Clock,
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
        engine.changed.clear()  # a changelog's bookkeeping: nothing persists a replay's
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
