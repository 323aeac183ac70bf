"""Avro object container files, split block by block.

fastavro's own reader stops at the first bad block; replay must instead turn a
corrupt block into one dead letter and carry on at the next sync marker, so the
blocks are framed here (count and size varints, data, 16-byte sync marker) and
only the header and the records are left to fastavro.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import IO, Any

from fastavro import parse_schema, schemaless_reader

from processor.codec.avro_binary import reader_for
from processor.codec.avro_codecs import CODECS, CodecError, decompress
from processor.codec.schemas import Schema

MAGIC = b"Obj\x01"
SYNC_SIZE = 16

_HEADER_SCHEMA = parse_schema(
    {
        "type": "record",
        "name": "org.apache.avro.file.Header",
        "fields": [
            {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": 4}},
            {"name": "meta", "type": {"type": "map", "values": "bytes"}},
            {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": SYNC_SIZE}},
        ],
    }
)


class ContainerError(ValueError):
    """A header or block that cannot be framed or decoded."""


@dataclass(frozen=True, slots=True)
class Header:
    writer_schema: Schema
    codec: str
    sync: bytes
    end: int  # file position of the first block


@dataclass(frozen=True, slots=True)
class Block:
    number: int  # 1-based
    raw: bytes  # the block's bytes in the file, varints and sync marker included
    count: int
    data: bytes | None  # decompressed records; None when the block is corrupt
    error: str | None


def read_header(stream: IO[bytes]) -> Header:
    """Parse the header at the stream's position; ContainerError if it is not one."""
    try:
        header = schemaless_reader(stream, _HEADER_SCHEMA, None)
    except Exception as exc:  # fastavro: EOFError, ValueError, ... on garbage
        raise ContainerError(f"unreadable Avro container header: {exc}") from None
    if not isinstance(header, dict) or header["magic"] != MAGIC:
        raise ContainerError("not an Avro object container file (bad magic)")
    meta: dict[str, bytes] = header["meta"]
    codec = meta.get("avro.codec", b"null").decode("utf-8", "replace")
    if codec not in CODECS:
        raise ContainerError(f"unsupported Avro codec {codec!r} (supported: {', '.join(CODECS)})")
    try:
        schema = parse_schema(json.loads(meta["avro.schema"]))
    except Exception as exc:  # KeyError, JSON or schema parse errors
        raise ContainerError(f"unreadable writer schema in the header: {exc!r}") from None
    if not isinstance(schema, dict):
        raise ContainerError("the writer schema in the header is not a record")
    return Header(schema, codec, header["sync"], stream.tell())


def _read_long(buf: Any, pos: int) -> tuple[int, int]:
    """A zigzag varint at `pos`; returns (value, next position)."""
    result = shift = 0
    for index in range(pos, min(pos + 10, len(buf))):
        byte = buf[index]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), index + 1
        shift += 7
    raise ContainerError("truncated or overlong varint in a block header")


def iter_blocks(buf: Any, header: Header) -> Iterator[Block]:
    """Every block after the header; a corrupt stretch is one Block with `error` set.

    `buf` is bytes or an mmap: anything with len, indexing, slicing and find.
    """
    pos, end_of_file, number = header.end, len(buf), 0
    while pos < end_of_file:
        number += 1
        start = pos
        try:
            count, data_start = _read_long(buf, pos)
            size, data_start = _read_long(buf, data_start)
            data_end = data_start + size
            if count < 0 or size < 0:
                raise ContainerError(f"negative record count ({count}) or size ({size})")
            if data_end + SYNC_SIZE > end_of_file:
                raise ContainerError("block runs past the end of the file")
            if buf[data_end : data_end + SYNC_SIZE] != header.sync:
                raise ContainerError("sync marker missing after the block")
        except ContainerError as exc:
            # Framing is lost: resume after the next sync marker (or at EOF).
            found = buf.find(header.sync, start)
            pos = end_of_file if found < 0 else found + SYNC_SIZE
            yield Block(number, bytes(buf[start:pos]), 0, None, str(exc))
            continue
        pos = data_end + SYNC_SIZE
        raw = bytes(buf[start:pos])
        try:
            data = decompress(header.codec, bytes(buf[data_start:data_end]))
        except CodecError as exc:
            yield Block(number, raw, count, None, str(exc))
            continue
        yield Block(number, raw, count, data, None)


def split_records(block: Block, schema: Schema) -> list[tuple[object, bytes]]:
    """The block's records as (datum, raw bytes); ContainerError if they do not fill it exactly."""
    data = block.data or b""
    stream = BytesIO(data)
    read = reader_for(data)  # the exact reader when a long may exceed 64 bits
    records: list[tuple[object, bytes]] = []
    try:
        for _ in range(block.count):
            start = stream.tell()
            datum = read(stream, schema, None)
            records.append((datum, data[start : stream.tell()]))
    except Exception as exc:  # any fastavro failure: the block's bytes are not records
        raise ContainerError(f"record {len(records) + 1} is unreadable: {exc}") from None
    left = len(data) - stream.tell()
    if left:
        raise ContainerError(f"{left} byte(s) left after the block's {block.count} record(s)")
    return records
