"""Record files (JSON Lines or Avro containers) in a folder: find, read, write.

Reading never stops at a bad record or block: each becomes a DeadLetter carrying its
original bytes, and the rest goes on. A file that cannot be read at all (an Avro header,
codec or schema) stops the command instead (InputFileError), before any output.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from fastavro import writer

from processor.codec.avro_binary import decode_datum
from processor.codec.container import (
    ContainerError,
    Header,
    iter_blocks,
    read_header,
    split_records,
)
from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.jsonl import decode_line, encode_line
from processor.codec.kinds import FileFormat, RecordKind
from processor.codec.records import from_record, to_record
from processor.codec.schemas import canonical_form, load_schema, sync_marker
from processor.domain.model import ErrorType


@dataclass(frozen=True, slots=True)
class Decoded:
    record: object
    offset: int  # JSON Lines: 1-based line number; Avro: 1-based record number in the file
    raw: bytes  # the line without its newline, or the record's Avro bytes


def output_path(folder: Path, kind: RecordKind, fmt: FileFormat) -> Path:
    return folder / f"{kind.value}.{fmt.value}"


def find_input(folder: Path, kind: RecordKind) -> Path | None:
    """`<stem>.jsonl` or `<stem>.avro`; None when neither exists (no records of that kind)."""
    found = [p for fmt in FileFormat if (p := output_path(folder, kind, fmt)).is_file()]
    if len(found) > 1:
        raise ValueError(f"{folder} holds both {found[0].name} and {found[1].name}; keep one")
    return found[0] if found else None


def format_of(path: Path) -> FileFormat:
    try:
        return FileFormat(path.suffix.removeprefix("."))
    except ValueError:
        raise ValueError(f"{path.name}: expected a .jsonl or .avro file") from None


def read_records(
    path: Path, kind: RecordKind, failed_at: datetime
) -> Iterator[Decoded | DeadLetter]:
    """Every record of the file in order, each as Decoded or, when it does not fit, DeadLetter."""
    if format_of(path) is FileFormat.JSONL:
        return _read_jsonl(path, kind, failed_at)
    return _read_avro(path, kind, failed_at)


def write_records(path: Path, kind: RecordKind, records: Iterable[object], fmt: FileFormat,
                  codec: str = "null") -> int:
    """Write all records (of `kind`) deterministically; returns how many were written.
    `codec`: the Avro block codec (any of the specification's).

    Written to a temporary file and renamed, so a crash never leaves half a file.
    """
    count = 0

    def checked() -> Iterator[object]:
        nonlocal count
        for record in records:
            if RecordKind.of(record) is not kind:
                raise TypeError(f"{type(record).__name__} written to a {kind.value} file")
            count += 1
            yield record

    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        if fmt is FileFormat.JSONL:
            stream.writelines(encode_line(r) for r in checked())
        else:
            # codec null by default: deflate bytes can differ between zlib builds.
            records_out = (to_record(r) for r in checked())
            writer(
                stream, load_schema(kind), records_out, codec=codec, sync_marker=sync_marker(kind)
            )
    os.replace(partial, path)
    return count


def _dead_letter(
    path: Path, offset: int | None, value: bytes, error_type: ErrorType, message: str, at: datetime
) -> DeadLetter:
    return DeadLetter(path.name, None, offset, None, value, error_type.value, message, at)


def _read_jsonl(
    path: Path, kind: RecordKind, failed_at: datetime
) -> Iterator[Decoded | DeadLetter]:
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            raw = line.removesuffix(b"\n").removesuffix(b"\r")
            if not raw.strip():
                continue
            try:
                record = decode_line(kind, raw)
            except DecodeError as exc:
                yield _dead_letter(path, number, raw, exc.error_type, exc.message, failed_at)
                continue
            yield Decoded(record, number, raw)


class InputFileError(ValueError):
    """An input file that cannot be read at all (its Avro header, codec or schema): the
    command stops, naming it, rather than deciding without its records."""


def _header(path: Path, stream: IO[bytes], kind: RecordKind) -> Header:
    try:
        header = read_header(stream)
    except ContainerError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    expected = load_schema(kind)["name"]
    if header.writer_schema["name"] != expected:
        raise InputFileError(f"{path}: holds {header.writer_schema['name']} records, not "
                             f"{expected}")
    return header


def check_input_header(path: Path, kind: RecordKind) -> None:
    """InputFileError when `path` is an Avro file whose header, codec or record type
    cannot be read as `kind`: checked before any output is written."""
    if format_of(path) is FileFormat.AVRO:
        with path.open("rb") as stream:
            _header(path, stream, kind)


def _read_avro(path: Path, kind: RecordKind, failed_at: datetime) -> Iterator[Decoded | DeadLetter]:
    with path.open("rb") as stream:
        header = _header(path, stream, kind)
        if stream.seek(0, os.SEEK_END) == header.end:
            return  # header only: no records
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield from _read_blocks(path, kind, buf, header, failed_at)


_RELEASE_BYTES = 8 << 20
_DONTNEED: int | None = getattr(mmap, "MADV_DONTNEED", None)


def _release(buf: mmap.mmap, start: int, end: int) -> int:
    """Drop the pages of [start, end) (`start` page-aligned), which have been read, from the
    process's resident set: file pages touched through a mapping count in it until then, and
    a replay may read several large files side by side. Touched again, they are mapped again
    from the page cache. Returns the new start."""
    end -= end % mmap.PAGESIZE
    if _DONTNEED is not None and end > start:
        buf.madvise(_DONTNEED, start, end - start)
    return max(start, end)


def _read_blocks(
    path: Path, kind: RecordKind, buf: mmap.mmap, header: Header, failed_at: datetime
) -> Iterator[Decoded | DeadLetter]:
    reader = load_schema(kind)
    # Same canonical form: decode with the reader schema (its logical types
    # apply). Otherwise split with the writer schema and resolve record by
    # record, so one unresolvable record does not take its block with it.
    same = canonical_form(header.writer_schema) == canonical_form(reader)
    split_schema = reader if same else header.writer_schema
    ordinal = 0
    released, read_to = 0, header.end
    for block in iter_blocks(buf, header):
        # Blocks are contiguous and copied out of `buf`: the file up to `read_to` is done with.
        read_to += len(block.raw)
        if read_to - released >= _RELEASE_BYTES:
            released = _release(buf, released, read_to)
        try:
            if block.error is not None:
                raise ContainerError(block.error)
            records = split_records(block, split_schema)
        except ContainerError as exc:
            message = f"corrupt Avro block {block.number}: {exc}"
            yield _dead_letter(
                path, block.number, block.raw, ErrorType.INVALID_RECORD, message, failed_at
            )
            continue
        for split_datum, raw in records:
            ordinal += 1
            try:
                datum = split_datum if same else decode_datum(kind, raw, header.writer_schema)
                if not isinstance(datum, dict):
                    raise DecodeError(ErrorType.INVALID_RECORD, "not a record")
                record = from_record(kind, datum)
            except DecodeError as exc:
                message = f"record {ordinal} (block {block.number}): {exc.message}"
                yield _dead_letter(path, ordinal, raw, exc.error_type, message, failed_at)
                continue
            yield Decoded(record, ordinal, raw)
