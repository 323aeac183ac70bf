"""Poison in input files (contract.md "Files"): hypothesis mixes corruptions of good
lines and records into a good history, in JSON Lines and in Avro object containers.

For every example: the replay raises nothing; every bad line or record is exactly one
dead letter carrying its original bytes, its file and its line (JSON Lines) or record /
block number (Avro) and the expected ``error_type``; no other dead letter appears; and
the outputs are exactly those of a replay of the good inputs alone.

In a container, a record the codec rejects is a dead letter of its own (its Avro bytes,
its record number), while bytes that cannot be read as a record at all make their block
one dead letter (the block's bytes, its block number). So each bad record is written in
a block of its own, and which of the two it becomes is predicted by an oracle
independent of the codec: does fastavro read exactly these bytes as one datum?
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from fastavro import writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.codec.avro_binary import encode
from processor.codec.dead_letter import DeadLetter
from processor.codec.jsonl import encode_line
from processor.codec.kinds import INPUT_KINDS, RecordKind
from processor.codec.schemas import load_schema
from processor.domain.model import Decision
from processor.domain.settings import PolicySettings
from processor.files.replay import replay
from processor.generate.history import GeneratedHistory, GeneratorConfig, generate
from tests.poison.corrupt import (
    INVALID,
    Chooser,
    DrawChooser,
    Poison,
    corrupt_line,
    corrupt_payload,
    zigzag,
)

FAILED_AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
POLICY = PolicySettings()
SYNC = bytes(range(16))
MAX_BAD_PER_FILE = 5
# AOR_POISON_EXAMPLES=2000 fuzzes longer (the default keeps the file well under a minute).
EXAMPLES = int(os.environ.get("AOR_POISON_EXAMPLES", "40"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def clock() -> datetime:
    return FAILED_AT


@dataclass
class Collected:
    """What a replay sent to its sink."""

    outputs: list[bytes] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)

    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        for decision in decisions:
            self.outputs.append(encode_line(decision.assignment))
            self.outputs.extend(encode_line(a) for a in decision.adjustments)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


@dataclass(frozen=True, repr=False)
class World:
    history: GeneratedHistory
    baseline: list[bytes]  # the outputs of the good inputs alone

    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        h = self.history
        return (f"World({len(h.enrollments)} enrollments, {len(h.plan_changes)} plan "
                f"changes, {len(h.snapshots)} snapshots, {len(self.baseline)} outputs)")

    def records(self, kind: RecordKind) -> Sequence[object]:
        return {RecordKind.ENROLLMENT: self.history.enrollments,
                RecordKind.PLAN_CHANGE: self.history.plan_changes,
                RecordKind.AGENT_STATUS: self.history.snapshots}[kind]


def run_replay(folder: Path) -> Collected:
    sink = Collected()
    replay(folder, POLICY, sink, clock)
    return sink


@pytest.fixture(scope="module")
def world() -> World:
    history = generate(GeneratorConfig(members=30, agents=12, seed=11))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in INPUT_KINDS:
            records = {RecordKind.ENROLLMENT: history.enrollments,
                       RecordKind.PLAN_CHANGE: history.plan_changes,
                       RecordKind.AGENT_STATUS: history.snapshots}[kind]
            (folder / f"{kind.value}.jsonl").write_bytes(b"".join(map(encode_line, records)))
        alone = run_replay(folder)
    assert not alone.letters, "the good history alone must yield no dead letter"
    assert len(alone.outputs) > 50
    return World(history, alone.outputs)


@dataclass(frozen=True)
class Expected:
    """The one dead letter a bad input must become."""

    source: str
    offset: int
    value: bytes
    error_type: str
    recipe: str


def check(world: World, folder: Path, expected: list[Expected]) -> None:
    got = run_replay(folder)  # must not raise, whatever the files hold
    # In a container, record n and block n are both "offset n" (DeadLetter.offset): the
    # original bytes tell them apart.
    by_place: dict[tuple[str, int | None, bytes | None], list[DeadLetter]] = {}
    for letter in got.letters:
        by_place.setdefault((letter.source, letter.offset, letter.value), []).append(letter)
    problems: list[str] = []
    for want in expected:
        found = by_place.pop((want.source, want.offset, want.value), [])
        if len(found) != 1:
            problems.append(f"{want.source}@{want.offset} ({want.recipe}, "
                            f"{len(want.value)} bytes): {len(found)} dead letters")
            continue
        letter = found[0]
        if letter.error_type != want.error_type:
            problems.append(f"{want.source}@{want.offset} ({want.recipe}): "
                            f"{letter.error_type} != {want.error_type}: "
                            f"{letter.error_message[:200]}")
        if letter.key is not None or letter.partition is not None or not letter.error_message:
            problems.append(f"{want.source}@{want.offset}: key, partition or message wrong")
        if letter.failed_at != FAILED_AT:
            problems.append(f"{want.source}@{want.offset}: failed_at {letter.failed_at}")
    for (source, offset, value), extra in by_place.items():
        problems.append(f"unexpected dead letter {source}@{offset} ({len(value or b'')} "
                        f"bytes): {extra[0].error_type} {extra[0].error_message[:200]}")
    assert not problems, "\n".join(problems)
    assert got.outputs == world.baseline, "the good inputs were not decided as alone"


def plan_bad(chooser: Chooser, world: World, kind: RecordKind, slots: int
             ) -> list[tuple[int, object]]:
    """(insert before good item i, the good record the bad one is made from)."""
    records = world.records(kind)
    count = chooser.integer(0, MAX_BAD_PER_FILE)
    plan = [(chooser.integer(0, slots), records[chooser.integer(0, len(records) - 1)])
            for _ in range(count)]
    return sorted(plan, key=lambda p: p[0])


# ------------------------------------------------------------------------ JSON Lines


@PROFILE
@given(data=st.data())
def test_jsonl_poison_is_one_dead_letter_each_and_good_lines_decide_as_alone(
        world: World, data: st.DataObject) -> None:
    chooser = DrawChooser(data)
    expected: list[Expected] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in INPUT_KINDS:
            name = f"{kind.value}.jsonl"
            good = [encode_line(r) for r in world.records(kind)]
            bad = plan_bad(chooser, world, kind, len(good))
            lines: list[bytes] = []
            for i in range(len(good) + 1):
                while bad and bad[0][0] == i:
                    poison = corrupt_line(kind, bad.pop(0)[1], chooser)
                    lines.append(poison.raw + b"\n")
                    expected.append(Expected(name, len(lines), poison.raw, poison.error_type,
                                             poison.recipe))
                if i == len(good):
                    break
                line = good[i]
                noise = chooser.integer(0, 20)
                if noise == 0:  # blank and whitespace-only lines are skipped, not letters
                    lines.append(chooser.choice((b"\n", b"   \n", b"\t\r\n")))
                elif noise == 1:  # CRLF line endings are tolerated
                    line = line[:-1] + b"\r\n"
                lines.append(line)
            if lines and chooser.integer(0, 3) == 0:  # no newline after the last line
                lines[-1] = lines[-1].rstrip(b"\r\n")
            (folder / name).write_bytes(b"".join(lines))
        check(world, folder, expected)


# --------------------------------------------------------------------- Avro containers


def _block(records: Sequence[bytes], codec: str, count: int | None = None) -> bytes:
    data = b"".join(records)
    if codec == "deflate":
        packer = zlib.compressobj(wbits=-15)
        data = packer.compress(data) + packer.flush()
    return zigzag(len(records) if count is None else count) + zigzag(len(data)) + data + SYNC


def _header(kind: RecordKind, codec: str) -> bytes:
    stream = BytesIO()
    writer(stream, load_schema(kind), [], codec=codec, sync_marker=SYNC)
    return stream.getvalue()


BLOCK_RECIPES = ("wrong-count", "corrupt-deflate", "truncated-tail")


@dataclass
class Container:
    """A container file built block by block, with the dead letters it must yield."""

    kind: RecordKind
    name: str
    codec: str
    blocks: list[bytes] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    ordinal: int = 0  # records in blocks that split, so far

    def good(self, records: Sequence[bytes]) -> None:
        self.blocks.append(_block(records, self.codec))
        self.ordinal += len(records)

    def bad(self, poison: Poison) -> None:
        block = _block([poison.raw], self.codec)
        self.blocks.append(block)
        if poison.readable:  # the block splits; the codec rejects the record
            self.ordinal += 1
            self.expected.append(Expected(self.name, self.ordinal, poison.raw,
                                          poison.error_type, poison.recipe))
        else:  # fastavro cannot read it: the whole block is the dead letter
            self.expected.append(Expected(self.name, len(self.blocks), block, INVALID,
                                          poison.recipe))

    def bad_block(self, recipe: str, record: bytes, chooser: Chooser) -> None:
        if recipe == "wrong-count":  # the count says more records than the block holds
            block = _block([record], self.codec, count=chooser.integer(2, 1000))
        elif recipe == "corrupt-deflate":
            junk = bytes(chooser.integer(0, 255) for _ in range(chooser.integer(1, 40)))
            block = zigzag(1) + zigzag(len(junk) + 1) + b"\xff" + junk + SYNC
        else:  # the file ends inside this block
            whole = _block([record], self.codec)
            block = whole[:chooser.integer(1, len(whole) - 1)]
        self.blocks.append(block)
        self.expected.append(Expected(self.name, len(self.blocks), block, INVALID, recipe))

    def write(self, folder: Path) -> None:
        (folder / self.name).write_bytes(_header(self.kind, self.codec) + b"".join(self.blocks))


def _good_runs(chooser: Chooser, records: list[bytes]) -> Iterator[list[bytes]]:
    """Consecutive good records in blocks of 1 to 8."""
    i = 0
    while i < len(records):
        size = chooser.integer(1, 8)
        yield records[i:i + size]
        i += size


@PROFILE
@given(data=st.data())
def test_avro_poison_is_one_dead_letter_each_and_good_records_decide_as_alone(
        world: World, data: st.DataObject) -> None:
    chooser = DrawChooser(data)
    expected: list[Expected] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in INPUT_KINDS:
            codec = chooser.choice(("null", "deflate"))
            file = Container(kind, f"{kind.value}.avro", codec)
            good = [encode(r) for r in world.records(kind)]
            bad = plan_bad(chooser, world, kind, len(good))
            pending: list[bytes] = []
            for i in range(len(good) + 1):
                if bad and bad[0][0] == i:
                    for run in _good_runs(chooser, pending):
                        file.good(run)
                    pending = []
                while bad and bad[0][0] == i:
                    record = bad.pop(0)[1]
                    recipes = [r for r in BLOCK_RECIPES
                               if r != "corrupt-deflate" or codec == "deflate"]
                    if chooser.integer(0, 9) == 0:
                        recipe = chooser.choice([r for r in recipes if r != "truncated-tail"])
                        file.bad_block(recipe, encode(record), chooser)
                    else:
                        file.bad(corrupt_payload(kind, record, chooser))
                if i < len(good):
                    pending.append(good[i])
            for run in _good_runs(chooser, pending):
                file.good(run)
            if chooser.integer(0, 9) == 0:  # the file was cut short inside a last, bad block
                file.bad_block("truncated-tail", encode(world.records(kind)[0]), chooser)
            file.write(folder)
            expected.extend(file.expected)
        check(world, folder, expected)


def test_avro_containers_of_the_good_history_decide_as_the_json_lines(
        world: World, tmp_path: Path) -> None:
    """The baseline is format-independent: the same good records in containers (both
    codecs, blocks of several records) decide exactly as the JSON Lines files."""
    for codec in ("null", "deflate"):
        folder = tmp_path / codec
        folder.mkdir()
        for kind in INPUT_KINDS:
            file = Container(kind, f"{kind.value}.avro", codec)
            records = [encode(r) for r in world.records(kind)]
            for start in range(0, len(records), 7):
                file.good(records[start:start + 7])
            file.write(folder)
        got = run_replay(folder)
        assert not got.letters
        assert got.outputs == world.baseline
