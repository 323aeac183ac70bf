"""Schemaless Avro binary: the payload format on Kafka (framing is the runtime's job)."""

from __future__ import annotations

from io import BytesIO

from fastavro import schemaless_reader, schemaless_writer

from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.records import from_record, to_record
from processor.codec.schemas import Schema, load_schema
from processor.domain.model import ErrorType


def encode(obj: object) -> bytes:
    """Avro binary of a domain object (or DeadLetter) with the current schema of its kind."""
    buffer = BytesIO()
    schemaless_writer(buffer, load_schema(RecordKind.of(obj)), to_record(obj))
    return buffer.getvalue()


def decode_datum(kind: RecordKind, payload: bytes, writer_schema: Schema | None = None) -> object:
    """The Avro-shaped datum of a payload, resolved to the current reader schema.

    The whole payload must be one datum: trailing bytes mean a framing or
    schema mismatch, not a record to guess at.
    """
    reader = load_schema(kind)
    stream = BytesIO(payload)
    try:
        if writer_schema is None or writer_schema is reader:
            datum = schemaless_reader(stream, reader, None)
        else:
            datum = schemaless_reader(stream, writer_schema, reader)
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
