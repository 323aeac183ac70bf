"""Record files: bad lines and corrupt blocks become dead letters; writes are deterministic."""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer, writer
from fastavro.write import Writer

from processor.codec.avro_binary import encode
from processor.codec.dead_letter import DeadLetter
from processor.codec.files import (
    Decoded,
    InputFileError,
    check_input_header,
    find_input,
    output_path,
    read_records,
    write_records,
)
from processor.codec.jsonl import encode_line
from processor.codec.kinds import FileFormat, RecordKind
from processor.codec.records import to_record
from processor.codec.schemas import history_schemas, load_schema, sync_marker
from processor.domain.model import AorAssignment, Enrollment, ErrorType
from tests.contract.contract_samples import FULL, MINIMAL, sample

FAILED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENR = RecordKind.ENROLLMENT
BASE = sample(ENR, Enrollment)


def enrollments(count: int, start: int = 0) -> list[Enrollment]:
    return [
        dataclasses.replace(
            BASE, event_id=f"e-{n:04d}", recorded_at=BASE.recorded_at + timedelta(seconds=n)
        )
        for n in range(start, start + count)
    ]


def read_all(path: Path, kind: RecordKind = ENR) -> list[Decoded | DeadLetter]:
    return list(read_records(path, kind, FAILED_AT))


def split(items: Iterable[Decoded | DeadLetter]) -> tuple[list[Decoded], list[DeadLetter]]:
    items = list(items)
    return (
        [i for i in items if isinstance(i, Decoded)],
        [i for i in items if isinstance(i, DeadLetter)],
    )


# --- finding files -------------------------------------------------------------------------


def test_find_input(tmp_path: Path) -> None:
    assert find_input(tmp_path, ENR) is None
    jsonl = output_path(tmp_path, ENR, FileFormat.JSONL)
    jsonl.write_bytes(b"")
    assert jsonl.name == "enrollments.jsonl"
    assert find_input(tmp_path, ENR) == jsonl
    output_path(tmp_path, ENR, FileFormat.AVRO).write_bytes(b"")
    with pytest.raises(ValueError, match="both"):
        find_input(tmp_path, ENR)
    assert find_input(tmp_path, RecordKind.PLAN_CHANGE) is None


# --- JSON Lines -------------------------------------------------------------------------------


def test_jsonl_bad_lines_become_dead_letters(tmp_path: Path) -> None:
    good = [encode_line(e).rstrip(b"\n") for e in enrollments(3)]
    bad_json = b'{"event_id": "x",'
    bad_type = good[0].replace(b'"plan_year":2026', b'"plan_year":"2026"')
    bad_utf8 = b'{"event_id": "\xff"}'
    lines = [good[0], bad_json, b"", b"   ", good[1], bad_type, bad_utf8, good[2]]
    path = tmp_path / "enrollments.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    decoded, dead = split(read_all(path))

    assert [(d.offset, d.raw) for d in decoded] == [(1, good[0]), (5, good[1]), (8, good[2])]
    assert [d.record for d in decoded] == enrollments(3)
    assert [(d.offset, d.value) for d in dead] == [(2, bad_json), (6, bad_type), (7, bad_utf8)]
    assert all(d.source == "enrollments.jsonl" and d.failed_at == FAILED_AT for d in dead)
    assert all(d.partition is None and d.key is None for d in dead)
    assert {d.error_type for d in dead} == {ErrorType.INVALID_RECORD.value}
    assert "plan.plan_year" in dead[1].error_message


def test_jsonl_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    good = [encode_line(e).rstrip(b"\n") for e in enrollments(2)]
    path = tmp_path / "enrollments.jsonl"
    path.write_bytes(good[0] + b"\r\n" + good[1])
    decoded, dead = split(read_all(path))
    assert not dead
    assert [d.raw for d in decoded] == good


# --- Avro containers --------------------------------------------------------------------------

SYNC = sync_marker(ENR)


def container(blocks: list[list[Enrollment]], codec: str = "null", schema: Any = None) -> bytes:
    """One block per inner list (flushed by hand), so tests know where blocks are."""
    stream = io.BytesIO()
    target = Writer(stream, schema or load_schema(ENR), codec=codec, sync_marker=SYNC)
    for block in blocks:
        for record in block:
            target.write(to_record(record))
        target.flush()
    return stream.getvalue()


def block_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every block, sync marker included, found by the markers."""
    return [(a + 16, b + 16) for a, b in itertools.pairwise(_find_all(data, SYNC))]


def _find_all(data: bytes, needle: bytes) -> Iterator[int]:
    at = data.find(needle)
    while at >= 0:
        yield at
        at = data.find(needle, at + 1)


BLOCKS = [enrollments(3, 0), enrollments(2, 3), enrollments(4, 5)]


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "enrollments.avro"
    path.write_bytes(data)
    return path


def test_avro_container_reads_all_blocks(tmp_path: Path) -> None:
    decoded, dead = split(read_all(write(tmp_path, container(BLOCKS))))
    assert not dead
    assert [d.record for d in decoded] == [e for b in BLOCKS for e in b]
    assert [d.offset for d in decoded] == list(range(1, 10))
    assert [d.raw for d in decoded] == [encode(e) for b in BLOCKS for e in b]


def body_start(block: bytes) -> int:
    """Position after a block's record count and size varints."""
    pos = 0
    for _ in range(2):
        while block[pos] & 0x80:
            pos += 1
        pos += 1
    return pos


def _break_size(block: bytes) -> bytes:
    return block[:1] + b"\xfe\xff\xff\x0f" + block[body_start(block) :]  # far past the end


def _break_record(block: bytes) -> bytes:
    # The first record's event_id length (its first byte) made huge.
    at = body_start(block)
    return block[:at] + b"\xfe\xff\x0f" + block[at + 1 :]


def _break_count(block: bytes) -> bytes:
    assert block[0] == 0x04  # two records
    return b"\x02" + block[1:]  # one record: bytes are left over


CORRUPTIONS = [
    pytest.param(_break_size, id="size-varint"),
    pytest.param(_break_record, id="record-bytes"),
    pytest.param(_break_count, id="record-count"),
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_corrupt_block_is_one_dead_letter(tmp_path: Path, corrupt: Any) -> None:
    data = container(BLOCKS)
    start, end = block_spans(data)[1]
    broken = corrupt(data[start:end])
    path = write(tmp_path, data[:start] + broken + data[end:])

    decoded, dead = split(read_all(path))

    assert [d.record for d in decoded] == BLOCKS[0] + BLOCKS[2]
    assert len(dead) == 1
    letter = dead[0]
    assert (letter.offset, letter.value) == (2, broken)
    assert letter.error_type == ErrorType.INVALID_RECORD.value
    assert "block 2" in letter.error_message


def test_corrupt_deflate_block(tmp_path: Path) -> None:
    data = container(BLOCKS, codec="deflate")
    start, end = block_spans(data)[1]
    at = start + body_start(data[start:end])
    body = data[at : end - 16]
    assert zlib.decompress(body, -15)
    broken = data[start:at] + b"\x00" * len(body) + data[end - 16 : end]
    decoded, dead = split(read_all(write(tmp_path, data[:start] + broken + data[end:])))
    assert [d.record for d in decoded] == BLOCKS[0] + BLOCKS[2]
    assert [(d.offset, d.value) for d in dead] == [(2, broken)]
    assert "deflate" in dead[0].error_message


def test_lost_sync_marker_resumes_at_the_next_one(tmp_path: Path) -> None:
    """When a block's marker is damaged, the stretch up to the next marker is one letter."""
    blocks = [*BLOCKS, enrollments(1, 9)]
    data = container(blocks)
    spans = block_spans(data)
    damaged_at = spans[1][1] - 16
    broken = data[:damaged_at] + b"\x00" * 16 + data[damaged_at + 16 :]
    decoded, dead = split(read_all(write(tmp_path, broken)))
    assert [d.record for d in decoded] == blocks[0] + blocks[3]
    assert len(dead) == 1
    assert dead[0].value == broken[spans[1][0] : spans[2][1]]


def test_truncated_file_loses_only_the_last_block(tmp_path: Path) -> None:
    data = container(BLOCKS)
    start, end = block_spans(data)[2]
    decoded, dead = split(read_all(write(tmp_path, data[: end - 20])))
    assert [d.record for d in decoded] == BLOCKS[0] + BLOCKS[1]
    assert [(d.offset, d.value) for d in dead] == [(3, data[start : end - 20])]


def test_record_that_does_not_convert_is_its_own_dead_letter(tmp_path: Path) -> None:
    good = sample(RecordKind.ASSIGNMENT, AorAssignment)
    bad_record = to_record(good) | {"reason": "NOT_A_REASON"}
    stream = io.BytesIO()
    records = [to_record(good), bad_record, to_record(MINIMAL[RecordKind.ASSIGNMENT])]
    writer(stream, load_schema(RecordKind.ASSIGNMENT), records)
    path = tmp_path / "assignments.avro"
    path.write_bytes(stream.getvalue())

    decoded, dead = split(read_all(path, RecordKind.ASSIGNMENT))

    assert [d.record for d in decoded] == [good, MINIMAL[RecordKind.ASSIGNMENT]]
    assert [d.offset for d in decoded] == [1, 3]
    assert len(dead) == 1
    assert dead[0].offset == 2
    raw = io.BytesIO()
    schemaless_writer(raw, load_schema(RecordKind.ASSIGNMENT), bad_record)
    assert dead[0].value == raw.getvalue()
    assert "'reason'" in dead[0].error_message


def test_an_unreadable_header_stops_the_read_naming_the_file(tmp_path: Path) -> None:
    """A file whose header cannot be read is not one dead letter (issue 12): a replay would
    go on without its records (plan changes decided without their enrollments)."""
    for content in (b"", b"not avro at all", container(BLOCKS)[:20]):
        path = write(tmp_path, content)
        with pytest.raises(InputFileError, match=re.escape(str(path))):
            read_all(path)
        with pytest.raises(InputFileError, match="header"):
            check_input_header(path, ENR)


def test_a_file_of_another_record_type_stops_the_read(tmp_path: Path) -> None:
    path = tmp_path / "plan-changes.avro"
    path.write_bytes(container(BLOCKS))
    with pytest.raises(InputFileError, match=re.escape(
            "holds aor.v1.Enrollment records, not aor.v1.PlanChange")):
        read_all(path, RecordKind.PLAN_CHANGE)
    check_input_header(path.rename(tmp_path / "enrollments.avro"), ENR)  # the right kind


@pytest.mark.parametrize("codec", ["snappy", "zstandard", "bzip2", "xz"])
def test_every_codec_reads_and_a_corrupt_block_is_one_dead_letter(tmp_path: Path,
                                                                  codec: str) -> None:
    good = container(BLOCKS, codec=codec)
    items = read_all(write(tmp_path, good))
    assert [i.record for i in items if isinstance(i, Decoded)] == [e for b in BLOCKS for e in b]
    # Damage the second block's data (the sync markers end the header and each block):
    # it alone becomes a dead letter.
    ends = [m.start() for m in re.finditer(re.escape(SYNC), good)]
    second = ends[2] - 8
    damaged = bytearray(good)
    damaged[second] ^= 0xFF
    items = read_all(write(tmp_path, bytes(damaged)))
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert len(dead) == 1 and dead[0].offset == 2, dead
    assert len([i for i in items if isinstance(i, Decoded)]) == len(BLOCKS[0]) + len(BLOCKS[2])


def test_a_codec_the_specification_does_not_name_stops_the_read(tmp_path: Path) -> None:
    data = container(BLOCKS).replace(b"\x08null", b"\x08lz4x")  # the avro.codec value
    path = write(tmp_path, data)
    with pytest.raises(InputFileError, match="unsupported Avro codec 'lz4x'"):
        read_all(path)


def test_header_only_file_has_no_records(tmp_path: Path) -> None:
    assert read_all(write(tmp_path, container([]))) == []


@pytest.mark.parametrize("kind", [ENR, RecordKind.PLAN_CHANGE, RecordKind.AGENT_STATUS])
def test_container_of_an_older_writer_resolves(tmp_path: Path, kind: RecordKind) -> None:
    old = history_schemas(kind)[0]
    full = to_record(FULL[kind])
    stream = io.BytesIO()
    writer(stream, old, [{f["name"]: full[f["name"]] for f in old["fields"]}])
    path = tmp_path / f"{kind.value}.avro"
    path.write_bytes(stream.getvalue())
    decoded, dead = split(read_all(path, kind))
    assert not dead
    missing = {f["name"] for f in load_schema(kind)["fields"]} - {f["name"] for f in old["fields"]}
    assert to_record(decoded[0].record) == full | dict.fromkeys(missing)


# --- writing ---------------------------------------------------------------------------------

OUTPUTS = {
    kind: [FULL[kind], MINIMAL[kind], FULL[kind]]
    for kind in (RecordKind.ASSIGNMENT, RecordKind.ADJUSTMENT, RecordKind.DEAD_LETTER, ENR)
}


@pytest.mark.parametrize("fmt", list(FileFormat))
@pytest.mark.parametrize("kind", list(OUTPUTS))
def test_write_is_deterministic_and_reads_back(
    tmp_path: Path, kind: RecordKind, fmt: FileFormat
) -> None:
    first = output_path(tmp_path / "one", kind, fmt)
    second = output_path(tmp_path / "two", kind, fmt)
    first.parent.mkdir()
    second.parent.mkdir()
    assert write_records(first, kind, iter(OUTPUTS[kind]), fmt) == 3
    assert write_records(second, kind, OUTPUTS[kind], fmt) == 3
    assert first.read_bytes() == second.read_bytes()
    decoded, dead = split(read_all(first, kind))
    assert not dead
    assert [d.record for d in decoded] == OUTPUTS[kind]
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]


def test_write_refuses_records_of_another_kind(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_records(tmp_path / "x.jsonl", ENR, [FULL[RecordKind.ASSIGNMENT]], FileFormat.JSONL)


def test_empty_write(tmp_path: Path) -> None:
    path = tmp_path / "assignments.avro"
    assert write_records(path, RecordKind.ASSIGNMENT, [], FileFormat.AVRO) == 0
    assert read_all(path, RecordKind.ASSIGNMENT) == []
