"""JSON Lines: one record per line, deterministic on the way out, strict on the way in."""

from __future__ import annotations

import json

import orjson

from processor.codec.errors import DecodeError, FieldError
from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind
from processor.domain.model import ErrorType

# Fields come out in schema order (dicts keep insertion order, orjson writes dataclasses
# in field order); no key sorting, no spaces, UTF-8 text as is (only '"', '\\' and control
# characters escaped), no floats in any schema. These are the bytes of
# json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False) on
# to_json(obj), written about ten times faster (tests/contract/test_jsonl_encoding.py).
_OPTIONS = orjson.OPT_APPEND_NEWLINE


def encode_line(obj: object) -> bytes:
    """One JSON line (with its trailing newline) of a domain object or DeadLetter."""
    codec = record_codec(RecordKind.of(obj))
    value = obj if codec.to_jsonable is None else codec.to_jsonable(obj)
    return orjson.dumps(value, option=_OPTIONS)


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
