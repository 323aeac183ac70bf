"""Domain objects <-> Avro-shaped dicts (datetime, date, Decimal, str-enum values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processor.codec.errors import FieldError
from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind


def to_record(obj: object) -> dict[str, Any]:
    """The Avro-shaped dict of a domain object or DeadLetter, fields in schema order."""
    result: dict[str, Any] = record_codec(RecordKind.of(obj)).to_avro(obj)
    return result


def from_record(kind: RecordKind, data: Mapping[str, Any]) -> object:
    """The domain object of an Avro-shaped mapping; DecodeError(INVALID_RECORD) if it won't fit."""
    try:
        result: object = record_codec(kind).from_avro(data)
    except FieldError as exc:
        raise exc.to_decode_error() from None
    return result
