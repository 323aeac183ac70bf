"""Converters for single values, one set per Avro type.

Each type has four directions: from an Avro-shaped value (what fastavro decodes
and `to_record` produces), from a parsed JSON value, and back to each. The
`from_*` directions are strict and raise FieldError with a readable detail; the
enclosing record adds the field path. JSON checks use `type(v) is ...` so that
`true` is never an int and `1.0` never an int.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from processor.codec.errors import FieldError

Conv = Callable[[Any], Any]

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
CENT = Decimal("0.01")
MONEY_LIMIT = Decimal(10) ** 10  # decimal(12,2): at most 10 integer digits
_ZERO_MONEY = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class TypeCodec:
    name: str  # the Avro type, for messages
    from_avro: Conv
    from_json: Conv
    to_avro: Conv
    to_json: Conv
    # For JSON Lines output through orjson: True when the domain value itself serializes
    # to what `to_json` gives (strings, str-enums, ints, booleans, and records or arrays
    # made only of those: orjson writes dataclasses field by field, in declaration order).
    json_native: bool = False
    # What to hand orjson when the value is not native (None: `to_json`).
    to_jsonable: Conv | None = None


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _wrong(expected: str, value: object) -> FieldError:
    return FieldError(f"expected {expected}, got {json_type(value)}")


def identity(value: Any) -> Any:
    return value


# --- string -------------------------------------------------------------------


def _check_text(value: str) -> str:
    # JSON "\ud800" escapes and Python strings can hold lone surrogates, which
    # Avro (UTF-8) cannot carry. isascii() is O(1), so only non-ASCII text pays.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError("string is not valid Unicode (lone surrogate)") from None
    return value


def _string_json(value: Any) -> str:
    if type(value) is str and value.isascii():
        return value  # the common case, in one test
    if type(value) is not str:
        raise _wrong("string", value)
    return _check_text(value)


def _string_avro(value: Any) -> str:
    if type(value) is str and value.isascii():
        return value
    if not isinstance(value, str):
        raise _wrong("string", value)
    return _check_text(value)


STRING = TypeCodec("string", _string_avro, _string_json, identity, identity, json_native=True)


# --- int, long, boolean -------------------------------------------------------


def _integer(avro_type: str, bounds: tuple[int, int]) -> TypeCodec:
    low, high = bounds

    def from_json(value: Any) -> int:
        if type(value) is not int:
            raise _wrong(f"{avro_type} (a JSON integer)", value)
        if not low <= value <= high:
            raise FieldError(f"{value} is out of range for {avro_type}")
        return value

    def from_avro(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong(avro_type, value)
        if not low <= value <= high:
            raise FieldError(f"{value} is out of range for {avro_type}")
        return int(value)

    return TypeCodec(avro_type, from_avro, from_json, identity, identity, json_native=True)


INT = _integer("int", INT_RANGE)
LONG = _integer("long", LONG_RANGE)


def _boolean(value: Any) -> bool:
    if type(value) is not bool:
        raise _wrong("boolean", value)
    return value


BOOLEAN = TypeCodec("boolean", _boolean, _boolean, identity, identity, json_native=True)


# --- timestamp-millis -----------------------------------------------------------

# RFC 3339 with a mandatory offset; fromisoformat alone would also take ISO 8601
# variants (week dates, no separators) the contract does not allow.
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z"
)
_NAIVE_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\Z")


def _utc_millis(value: datetime) -> datetime:
    """UTC, truncated to milliseconds, so that JSON and Avro agree."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.microsecond % 1000:
        value = value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    return value


def _timestamp_json(value: Any) -> datetime:
    if type(value) is not str:
        raise _wrong("an RFC 3339 timestamp string", value)
    if _TIMESTAMP.match(value) is None:
        if _NAIVE_TIMESTAMP.match(value):
            raise FieldError(f"timestamp {value!r} has no UTC offset (expected e.g. ...Z)")
        raise FieldError(f"{value!r} is not an RFC 3339 timestamp like 2026-01-15T10:00:00.000Z")
    try:
        parsed = datetime.fromisoformat(value if value.isupper() else value.upper())
        return _utc_millis(parsed)
    except (ValueError, OverflowError) as exc:
        raise FieldError(f"{value!r} is not a valid timestamp: {exc}") from None


def _timestamp_avro(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise _wrong("a datetime", value)
    if value.utcoffset() is None:
        raise FieldError(f"datetime {value.isoformat()} has no UTC offset")
    try:
        return _utc_millis(value)
    except OverflowError as exc:
        raise FieldError(f"datetime {value.isoformat()} is out of range: {exc}") from None


def _aware_utc(value: datetime) -> datetime:
    # fastavro would read a naive datetime as local time: refuse it outright.
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be encoded")
    return _utc_millis(value)


def _format_timestamp(value: datetime) -> str:
    return _aware_utc(value).isoformat(timespec="milliseconds")[:-6] + "Z"


TIMESTAMP = TypeCodec(
    "timestamp-millis", _timestamp_avro, _timestamp_json, _aware_utc, _format_timestamp
)


# --- date -------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def _date_json(value: Any) -> date:
    if type(value) is not str:
        raise _wrong("a YYYY-MM-DD date string", value)
    if _DATE.match(value) is None:
        raise FieldError(f"{value!r} is not a date like 2026-01-01")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FieldError(f"{value!r} is not a valid date: {exc}") from None


def _date_avro(value: Any) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _wrong("a date", value)
    return value


def _format_date(value: date) -> str:
    return value.isoformat()


DATE = TypeCodec("date", _date_avro, _date_json, identity, _format_date)


# --- decimal(12,2) ------------------------------------------------------------------

_MONEY = re.compile(r"-?\d{1,10}(?:\.\d{1,2})?\Z")


def _money_json(value: Any) -> Decimal:
    if type(value) is not str:
        raise _wrong('a decimal string like "318.08"', value)
    if _MONEY.match(value) is None:
        raise FieldError(
            f'{value!r} is not a decimal(12,2) amount like "318.08" '
            "(at most 10 integer digits and 2 places)"
        )
    return Decimal(value).quantize(CENT) or _ZERO_MONEY  # -0.00 -> 0.00, as Avro reads it


def _money_avro(value: Any) -> Decimal:
    if not isinstance(value, Decimal):
        raise _wrong("a Decimal", value)
    try:
        cents = value.quantize(CENT)
    except InvalidOperation:
        raise FieldError(f"{value} is not a finite decimal(12,2) amount") from None
    if cents != value:
        raise FieldError(f"{value} has more than 2 decimal places")
    if abs(cents) >= MONEY_LIMIT:
        raise FieldError(f"{value} does not fit decimal(12,2)")
    return cents or _ZERO_MONEY


def _money_out(value: Decimal) -> Decimal:
    try:
        return _money_avro(value)
    except FieldError as exc:
        raise ValueError(exc.detail) from None


def _format_money(value: Decimal) -> str:
    return f"{_money_out(value):f}"


MONEY = TypeCodec("decimal(12,2)", _money_avro, _money_json, _money_out, _format_money)


# --- bytes (base64 in JSON) ------------------------------------------------------------


def _bytes_json(value: Any) -> bytes:
    if type(value) is not str:
        raise _wrong("a base64 string", value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FieldError("not valid base64") from None


def _bytes_avro(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise _wrong("bytes", value)
    return bytes(value)


def _format_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


BYTES = TypeCodec("bytes", _bytes_avro, _bytes_json, identity, _format_bytes)

PRIMITIVES: dict[str, TypeCodec] = {
    "string": STRING,
    "int": INT,
    "long": LONG,
    "boolean": BOOLEAN,
    "bytes": BYTES,
}
LOGICAL: dict[tuple[str, str], TypeCodec] = {
    ("long", "timestamp-millis"): TIMESTAMP,
    ("int", "date"): DATE,
    ("bytes", "decimal"): MONEY,
}


# --- enums, arrays ---------------------------------------------------------------------


def enum_codec(name: str, enum_type: type[StrEnum]) -> TypeCodec:
    """Symbols map to the domain enum; anything else is an unknown symbol."""
    members: dict[str, StrEnum] = {m.value: m for m in enum_type}
    expected = ", ".join(members)

    def convert(value: Any) -> StrEnum:
        if not isinstance(value, str):
            raise _wrong(f"a {name} symbol", value)
        member = members.get(value)
        if member is None:
            raise FieldError(f"unknown {name} symbol {value!r} (expected one of {expected})")
        return member

    return TypeCodec(name, convert, convert, identity, identity, json_native=True)


def array_codec(item: TypeCodec) -> TypeCodec:
    def locate(values: list[Any] | tuple[Any, ...], conv: Conv, exc: FieldError) -> FieldError:
        # Error path only: find the failing index for the message.
        for index, value in enumerate(values):
            try:
                conv(value)
            except FieldError as item_exc:
                return item_exc.within(f"[{index}]")
        return exc

    def from_json(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise _wrong(f"an array of {item.name}", value)
        try:
            return tuple(map(item.from_json, value))
        except FieldError as exc:
            raise locate(value, item.from_json, exc) from None

    def from_avro(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise _wrong(f"an array of {item.name}", value)
        try:
            return tuple(map(item.from_avro, value))
        except FieldError as exc:
            raise locate(value, item.from_avro, exc) from None

    def to_avro(value: tuple[Any, ...]) -> list[Any]:
        return list(map(item.to_avro, value))

    def to_json(value: tuple[Any, ...]) -> list[Any]:
        return list(map(item.to_json, value))

    if item.json_native:
        return TypeCodec(f"array<{item.name}>", from_avro, from_json, to_avro, to_json,
                         json_native=True)
    item_jsonable = item.to_jsonable or item.to_json

    def to_jsonable(value: tuple[Any, ...]) -> list[Any]:
        return list(map(item_jsonable, value))

    return TypeCodec(f"array<{item.name}>", from_avro, from_json, to_avro, to_json,
                     to_jsonable=to_jsonable)
