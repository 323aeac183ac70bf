"""Schemaless Avro binary: the payload format on Kafka (framing is the runtime's job)."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from typing import IO, Any

from fastavro import schemaless_reader
from fastavro._read_py import schemaless_reader as exact_schemaless_reader

from processor.codec import avro_encode
from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.records import from_record
from processor.codec.schemas import Schema, load_schema
from processor.domain.model import ErrorType


def encode(obj: object) -> bytes:
    """Avro binary of a domain object (or DeadLetter) with the current schema of its kind.

    The bytes of fastavro's schemaless_writer on to_record(obj), from encoders generated
    from the schemas (processor.codec.avro_encode), several times faster.
    """
    return avro_encode.encode(obj)


# fastavro's compiled reader keeps a varint in 64 bits and silently drops the bits beyond,
# so a corrupt long of more than 64 bits (10 bytes whose last one is above 1, or 11 and
# more bytes) reads as a small, valid-looking number: a timestamp of 1970, a plan year.
# A valid Avro long never holds nine continuation bytes followed by a byte >= 2. The
# pattern can also occur inside non-ASCII text, so a match only switches the payload to
# fastavro's pure-Python reader, which keeps every bit (and then fails, or leaves the
# field's range check to the codec).
OVERLONG_VARINT = re.compile(rb"[\x80-\xff]{9}[\x02-\xff]")

SchemalessReader = Callable[[IO[bytes], Any, Any], object]


def reader_for(data: bytes) -> SchemalessReader:
    """The schemaless reader to use on ``data``: fastavro's compiled one, unless the bytes
    may hold a long of more than 64 bits (see ``OVERLONG_VARINT``)."""
    if OVERLONG_VARINT.search(data) is not None:
        return exact_schemaless_reader
    return schemaless_reader


def decode_datum(kind: RecordKind, payload: bytes, writer_schema: Schema | None = None) -> object:
    """The Avro-shaped datum of a payload, resolved to the current reader schema.

    The whole payload must be one datum: trailing bytes mean a framing or
    schema mismatch, not a record to guess at.
    """
    reader = load_schema(kind)
    stream = BytesIO(payload)
    read = reader_for(payload)
    try:
        if writer_schema is None or writer_schema is reader:
            datum = read(stream, reader, None)
        else:
            datum = read(stream, writer_schema, reader)
    # fastavro signals bad bytes with many exception types (EOFError,
    # IndexError, UnicodeDecodeError, SchemaResolutionError, ...): all mean
    # "not a valid payload".
    except Exception as exc:
        raise DecodeError(
            ErrorType.INVALID_RECORD,
            f"not a valid {kind.schema_name} Avro payload: {type(exc).__name__}: {exc}",
        ) from None
    extra = len(payload) - stream.tell()
    if extra:
        raise DecodeError(
            ErrorType.INVALID_RECORD,
            f"{extra} trailing byte(s) after a {kind.schema_name} Avro payload",
        )
    return datum


def decode(kind: RecordKind, payload: bytes, writer_schema: Schema | None = None) -> object:
    """The domain object of a schemaless Avro payload; DecodeError(INVALID_RECORD) on failure."""
    datum = decode_datum(kind, payload, writer_schema)
    if not isinstance(datum, dict):
        raise DecodeError(ErrorType.INVALID_RECORD, f"expected a {kind.schema_name} record")
    return from_record(kind, datum)
