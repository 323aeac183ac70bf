"""JSON Lines: one record per line, deterministic on the way out, strict on the way in."""

from __future__ import annotations

import json

from processor.codec.errors import DecodeError, FieldError
from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind
from processor.domain.model import ErrorType

# Fields come out in schema order (dicts keep insertion order); no key sorting,
# no spaces, UTF-8 text as is, NaN refused.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_line(obj: object) -> bytes:
    """One JSON line (with its trailing newline) of a domain object or DeadLetter."""
    record = record_codec(RecordKind.of(obj)).to_json(obj)
    return _ENCODER.encode(record).encode("utf-8") + b"\n"


def decode_line(kind: RecordKind, line: bytes) -> object:
    """The domain object of one JSON line; DecodeError(INVALID_RECORD) naming what is wrong."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            ErrorType.INVALID_RECORD,
            f"line is not valid UTF-8 (byte 0x{line[exc.start]:02x} at position {exc.start})",
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DecodeError(
            ErrorType.INVALID_RECORD, f"not valid JSON: {exc.msg} at column {exc.colno}"
        ) from None
    except RecursionError:
        raise DecodeError(ErrorType.INVALID_RECORD, "not valid JSON: nested too deeply") from None
    try:
        return record_codec(kind).from_json(value)
    except FieldError as exc:
        raise exc.to_decode_error() from None
