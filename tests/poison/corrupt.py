"""Poison recipes shared by the file and the Kafka poison suites.

Each recipe turns one good input record into bytes that must become a dead letter, and
says which ``error_type`` that dead letter must carry. A recipe never produces a
different *valid* record: the classes are invalid by construction (a required field
deleted, an enum symbol that does not exist, an impossible date, ...), and the fuzzing
classes (byte flips, deleted or retyped Avro fields) check the result against an
independent oracle (the standard library's ``json`` / fastavro reading exactly these
bytes) and, when it still parses, cut it short: a strict prefix of a parseable JSON
object or of a readable Avro datum never parses.

Random choices go through a ``Chooser``: hypothesis draws them in the file suite (so
failures shrink), a seeded ``random.Random`` in the Kafka suite (one fixed sample per
run), over the same recipes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any, Protocol, TypeVar

from fastavro._read_py import schemaless_reader as exact_schemaless_reader
from hypothesis import strategies as st

from processor.codec.jsonl import encode_line
from processor.codec.kinds import INPUT_KINDS, RecordKind
from processor.codec.records import to_record
from processor.codec.schemas import load_schema, resolved, schema_dir
from processor.domain.model import ErrorType

T = TypeVar("T")

INVALID = ErrorType.INVALID_RECORD.value
INVALID_STATE = ErrorType.INVALID_STATE.value
INVALID_EFFECTIVE_DATE = ErrorType.INVALID_EFFECTIVE_DATE.value
MISSING_FACILITATOR = ErrorType.MISSING_FACILITATOR.value
UNKNOWN_PLAN_YEAR = ErrorType.UNKNOWN_PLAN_YEAR.value

INT_LIMIT = 2**31
LONG_LIMIT = 2**63
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MAX_DAY = date.max.toordinal() - _EPOCH_DAY  # 9999-12-31
_MIN_DAY = date.min.toordinal() - _EPOCH_DAY  # 0001-01-01
_MAX_MILLIS = (_MAX_DAY + 1) * 86_400_000  # 10000-01-01T00:00:00Z
# Invalid UTF-8: a lone continuation byte, bytes that never occur, an overlong NUL, a
# UTF-16 surrogate, sequences cut short, a 5-byte form.
NON_UTF8 = (b"\x80", b"\xff", b"\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xc3(",
            b"\xf8\x88\x80\x80\x80", b"\xf4\x90\x80\x80")
NOT_STATES = ("ZZ", "XX", "AA", "AE", "AP", "FM", "MH", "PW", "QQ", "UK", "")
FIRST_UNKNOWN_YEAR = 2031  # the default schedule covers 2024-2026


class Chooser(Protocol):
    """Where a recipe's random choices come from."""

    def integer(self, low: int, high: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...


class RandomChooser:
    """Choices from a seeded ``random.Random``: the same sample on every run."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]


class DrawChooser:
    """Choices drawn by hypothesis (``st.data()``), so failing examples shrink."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(options))


@dataclass(frozen=True)
class Poison:
    """Bad bytes made from a good record, and the dead letter's expected error type."""

    recipe: str
    raw: bytes
    error_type: str
    # Avro only: fastavro reads the bytes as exactly one datum of the current schema, so
    # the codec (not the framing) rejects it: in a container file the dead letter is the
    # record, not its block.
    readable: bool = False


# ------------------------------------------------------------------------ schema facts


@dataclass(frozen=True)
class Leaf:
    """A field of an input record, found by walking its Avro schema."""

    path: tuple[str, ...]  # keys from the top-level JSON object
    type: str  # string, int, long, timestamp, date, enum, record, array
    optional: bool
    symbols: tuple[str, ...] = ()
    items: str = ""  # array item type


def _raw_schema(kind: RecordKind) -> dict[str, Any]:
    loaded: dict[str, Any] = resolved(schema_dir() / f"{kind.record_name}.avsc")
    return loaded


def _describe(avro_type: Any, named: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(type name, resolved schema) of an Avro type, registering named types."""
    if isinstance(avro_type, str):
        short = avro_type.removeprefix("aor.v1.")  # named by full name or within aor.v1
        if short in named:
            return _describe(named[short], named)
        return avro_type, {"type": avro_type}
    if isinstance(avro_type, dict):
        base = avro_type["type"]
        if base in ("record", "enum"):
            named[avro_type["name"]] = avro_type
            return base, avro_type
        logical = avro_type.get("logicalType")
        if logical == "timestamp-millis":
            return "timestamp", avro_type
        if logical == "date":
            return "date", avro_type
        return base, avro_type
    raise TypeError(f"unsupported Avro type {avro_type!r}")


def _named_types(schema: Any, named: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every record and enum defined anywhere in a schema, by name."""
    named = {} if named is None else named
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum"):
            named[schema["name"]] = schema
        for f in schema.get("fields", ()):
            _named_types(f["type"], named)
        if "items" in schema:
            _named_types(schema["items"], named)
    return named


def leaves(kind: RecordKind) -> tuple[Leaf, ...]:
    """Every field of a kind, nested record fields included (after their record)."""
    named: dict[str, Any] = {}
    found: list[Leaf] = []

    def walk(fields: list[dict[str, Any]], prefix: tuple[str, ...]) -> None:
        for f in fields:
            avro_type, optional = f["type"], False
            if isinstance(avro_type, list):
                optional, avro_type = True, avro_type[1]
            name, schema = _describe(avro_type, named)
            path = (*prefix, f["name"])
            items = _describe(schema["items"], named)[0] if name == "array" else ""
            found.append(Leaf(path, name, optional, tuple(schema.get("symbols", ())), items))
            if name == "record":
                walk(schema["fields"], path)

    walk(_raw_schema(kind)["fields"], ())
    return tuple(found)


# --------------------------------------------------------------------------- JSON Lines


def good_json(record: object) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(encode_line(record))
    return parsed


def dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_parses(raw: bytes) -> bool:
    """The independent oracle: is this a UTF-8 JSON text at all?"""
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def _present(data: dict[str, Any], leaf: Leaf) -> bool:
    node: Any = data
    for key in leaf.path:
        if not isinstance(node, dict) or node.get(key) is None:
            return False
        node = node[key]
    return True


def _set(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(data: dict[str, Any], path: tuple[str, ...]) -> None:
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


_WRONG_JSON: dict[str, tuple[object, ...]] = {
    "string": (0, -1, 1.5, True, False, [], ["x"], {}, {"x": "y"}),
    "enum": (0, 2, 1.5, True, [], {}, ["MA"]),
    "int": ("2026", 2026.0, 2026.5, True, False, [2026], {}, "0x7e9"),
    "long": ("1", 1.0, True, [], {}),
    "timestamp": (1768471200000, 1768471200000.0, True, [], {}, ["2026-01-15T10:00:00Z"]),
    "date": (20260201, 20485, True, [2026, 2, 1], {"year": 2026}),
    "record": ("H1234-001", 7, True, [], ["H1234-001", "MA", 2026]),
    "array": ("FL", "FL,TX", 5, True, {}, {"0": "FL"}),
}
_WRONG_ITEM: dict[str, tuple[object, ...]] = {
    "string": (5, None, True, [], {}, 1.5),
    "int": ("2026", 2026.5, None, True, [], {}),
}
_NOT_OBJECTS = (b"[]", b"null", b"42", b'"enrollment"', b"true", b"[{}]",
                b"[" * 100_000 + b"]" * 100_000,  # nested past the recursion limit
                b'{"a":' * 50_000 + b"1" + b"}" * 50_000)


def _impossible_date(chooser: Chooser) -> str:
    year = chooser.integer(1, 9999)
    month = chooser.integer(1, 12)
    if chooser.integer(0, 3) == 0:  # a month that does not exist
        return f"{year:04d}-{chooser.choice((0, 13, 14, 20, 99)):02d}-01"
    lengths = (31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    day = chooser.choice((0, lengths[month - 1] + 1, 31 if lengths[month - 1] < 31 else 32,
                          32, 99))
    return f"{year:04d}-{month:02d}-{day:02d}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _impossible_timestamp(chooser: Chooser) -> str:
    form = chooser.integer(0, 3)
    if form == 0:
        return f"{_impossible_date(chooser)}T10:00:00.000Z"
    if form == 1:
        return f"2026-01-15T{chooser.choice((24, 25, 99))}:00:00.000Z"
    if form == 2:
        return f"2026-01-15T10:{chooser.choice((60, 61, 99))}:00Z"
    return f"2026-01-15T10:00:00{chooser.choice(('+24:00', '+99:00', '-25:30'))}"


def _huge_int(chooser: Chooser, beyond_long: bool = False) -> int:
    magnitude = chooser.integer(LONG_LIMIT if beyond_long else INT_LIMIT, 2**80)
    return magnitude if chooser.integer(0, 1) else -magnitude - 1


HUGE_TEXT_MAX = 1_500_000


def _huge_text(chooser: Chooser, limit: int = HUGE_TEXT_MAX) -> str:
    return chooser.choice("ZQ~") * chooser.integer(1_000, limit)


def _flip(raw: bytes, chooser: Chooser, forbidden: bytes = b"") -> bytes:
    out = bytearray(raw)
    for _ in range(chooser.integer(1, 3)):
        if not out:
            break
        at = chooser.integer(0, len(out) - 1)
        value = chooser.integer(0, 255)
        while value in forbidden or value == out[at]:
            value = (value + 1) % 256
        out[at] = value
    return bytes(out)


def _insert_non_utf8(raw: bytes, chooser: Chooser) -> bytes:
    at = chooser.integer(0, len(raw))
    return raw[:at] + chooser.choice(NON_UTF8) + raw[at + (chooser.integer(0, 1) if at < len(raw)
                                                          else 0):]


def _json_unparseable(raw: bytes) -> bytes:
    """Cut a line short until the json oracle refuses it (never to a blank line)."""
    while json_parses(raw):
        raw = raw[:-1]
        if not raw.strip():
            return b"{"
    return raw


def json_recipes(kind: RecordKind) -> tuple[str, ...]:
    common = ("byte-flip", "truncated", "missing-field", "null-required", "wrong-type",
              "bad-enum", "impossible-date", "huge-string", "huge-int", "non-utf8",
              "not-an-object")
    if kind is RecordKind.AGENT_STATUS:
        return common
    events = (*common, "bad-state", "bad-effective-date", "unknown-plan-year")
    return (*events, "missing-facilitator") if kind is RecordKind.PLAN_CHANGE else events


def corrupt_line(kind: RecordKind, record: object, chooser: Chooser,
                 recipe: str | None = None) -> Poison:
    """One bad JSON line made from ``record`` (a good input of ``kind``)."""
    recipe = recipe or chooser.choice(json_recipes(kind))
    data = good_json(record)
    line = dumps(data)
    fields = [leaf for leaf in leaves(kind) if _present(data, leaf)]
    error_type = INVALID

    def pick(types: Sequence[str], *, required: bool = False) -> Leaf:
        options = [leaf for leaf in fields
                   if leaf.type in types and not (required and leaf.optional)]
        return chooser.choice(options)

    if recipe == "byte-flip":
        raw = _json_unparseable(_flip(line, chooser, forbidden=b"\n\r"))
    elif recipe == "truncated":
        raw = line[:chooser.integer(1, len(line) - 1)]
    elif recipe == "non-utf8":
        raw = _insert_non_utf8(line, chooser)
    elif recipe == "not-an-object":
        raw = chooser.choice(_NOT_OBJECTS)
    else:
        if recipe == "missing-field":
            _delete(data, pick([leaf.type for leaf in fields], required=True).path)
        elif recipe == "null-required":
            _set(data, pick([leaf.type for leaf in fields], required=True).path, None)
        elif recipe == "wrong-type":
            leaf = pick(tuple(_WRONG_JSON))
            if leaf.type == "array" and chooser.integer(0, 1):
                items = list(_get(data, leaf.path)) or ["FL"]
                items[chooser.integer(0, len(items) - 1)] = chooser.choice(
                    _WRONG_ITEM[leaf.items])
                _set(data, leaf.path, items)
            else:
                _set(data, leaf.path, chooser.choice(_WRONG_JSON[leaf.type]))
        elif recipe == "bad-enum":
            leaf = pick(["enum"])
            _set(data, leaf.path, _bad_symbol(leaf.symbols, chooser))
        elif recipe == "impossible-date":
            leaf = pick(["date", "timestamp"])
            _set(data, leaf.path, _impossible_date(chooser) if leaf.type == "date"
                 else _impossible_timestamp(chooser))
        elif recipe == "huge-string":
            targets = sorted({f.type for f in fields}
                             & {"enum", "date", "timestamp", "int", "array"})
            if kind is not RecordKind.AGENT_STATUS:
                targets.append("member_state")
            target = chooser.choice(targets)
            if target == "member_state":
                leaf, error_type = next(f for f in fields if f.path == ("member_state",)), \
                    INVALID_STATE
            else:
                leaf = pick([target])
            _set(data, leaf.path, _huge_text(chooser))
        elif recipe == "huge-int":
            ints = [f for f in fields if f.type == "int" or f.items == "int"]
            leaf = chooser.choice(ints)
            value = _huge_int(chooser, beyond_long=chooser.integer(0, 1) == 1)
            if leaf.type == "array":
                items = list(_get(data, leaf.path)) or [2026]
                items[chooser.integer(0, len(items) - 1)] = value
                _set(data, leaf.path, items)
            else:
                _set(data, leaf.path, value)
        else:
            error_type = _validation_recipe(kind, recipe, data, chooser)
        raw = dumps(data)
    assert raw.strip() and b"\n" not in raw and not raw.endswith(b"\r"), recipe
    assert raw != line, recipe
    return Poison(recipe, raw, error_type)


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for key in path:
        node = node[key]
    return node


def _bad_symbol(symbols: Sequence[str], chooser: Chooser) -> str:
    base = chooser.choice(symbols)
    variants = (base.lower(), base + "_", " " + base, base[:-1], "", "HMO", "WALK_IN",
                "RETIRED", "null", base.replace("_", "-"), base + "\u0000")
    bad = chooser.choice(variants)
    return bad if bad not in symbols else "NOT_A_SYMBOL"


def _validation_recipe(kind: RecordKind, recipe: str, data: dict[str, Any],
                       chooser: Chooser) -> str:
    plan_key = "plan" if kind is RecordKind.ENROLLMENT else "to_plan"
    if recipe == "bad-state":
        data["member_state"] = chooser.choice(NOT_STATES)
        return INVALID_STATE
    if recipe == "bad-effective-date":
        effective = date.fromisoformat(data["effective_date"])
        if chooser.integer(0, 1):
            effective = effective.replace(day=chooser.integer(2, 28))
        else:
            effective = effective.replace(year=effective.year + chooser.choice((-1, 1)))
        data["effective_date"] = effective.isoformat()
        return INVALID_EFFECTIVE_DATE
    if recipe == "unknown-plan-year":
        year = chooser.integer(FIRST_UNKNOWN_YEAR, 2099)
        data[plan_key] = {**data[plan_key], "plan_year": year}
        data["effective_date"] = date(year, chooser.integer(1, 12), 1).isoformat()
        return UNKNOWN_PLAN_YEAR
    if recipe == "missing-facilitator":
        data["channel"] = chooser.choice(("AGENT_APPLICATION", "EXTERNAL_CALL_CENTER"))
        if chooser.integer(0, 1):
            data["facilitating_agent_id"] = None
        else:
            del data["facilitating_agent_id"]
        return MISSING_FACILITATOR
    raise ValueError(f"unknown recipe {recipe!r}")


# ------------------------------------------------------------------------- Avro binary


def zigzag(value: int) -> bytes:
    """An Avro long of any size (varint of the zigzag encoding)."""
    number = value * 2 if value >= 0 else -value * 2 - 1
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def avro_text(value: bytes) -> bytes:
    return zigzag(len(value)) + value


@dataclass
class Token:
    """One primitive of an Avro encoding, with the field it belongs to."""

    path: str  # "plan.plan_type", "licensed_states[1]", "from_plan|branch", ...
    type: str  # string, int, long, timestamp, date, enum, branch, count
    data: bytes
    symbols: tuple[str, ...] = ()
    field: str = ""  # the top-level field


@dataclass
class Encoding:
    kind: RecordKind
    tokens: list[Token] = field(default_factory=list)

    @property
    def raw(self) -> bytes:
        return b"".join(t.data for t in self.tokens)


def avro_encoding(kind: RecordKind, record: object) -> Encoding:
    """The record's Avro binary, primitive by primitive (equal to fastavro's bytes)."""
    datum = to_record(record)
    named = _named_types(_raw_schema(kind))
    encoding = Encoding(kind)

    def emit(path: str, top: str, avro_type: Any, value: Any) -> None:
        if isinstance(avro_type, list):
            branch = 0 if value is None else 1
            encoding.tokens.append(Token(f"{path}|branch", "branch", zigzag(branch), (),
                                         top))
            if value is not None:
                emit(path, top, avro_type[1], value)
            return
        name, schema = _describe(avro_type, named)
        if name == "record":
            for f in schema["fields"]:
                emit(f"{path}.{f['name']}", top, f["type"], value[f["name"]])
        elif name == "enum":
            symbols = tuple(schema["symbols"])
            encoding.tokens.append(Token(path, "enum", zigzag(symbols.index(value)), symbols,
                                         top))
        elif name == "array":
            if value:
                encoding.tokens.append(Token(f"{path}|count", "count", zigzag(len(value)),
                                             (), top))
                for i, item in enumerate(value):
                    emit(f"{path}[{i}]", top, schema["items"], item)
            encoding.tokens.append(Token(f"{path}|end", "count", zigzag(0), (), top))
        elif name == "string":
            encoding.tokens.append(Token(path, "string", avro_text(value.encode()), (), top))
        elif name in ("int", "long"):
            encoding.tokens.append(Token(path, name, zigzag(value), (), top))
        elif name == "timestamp":
            millis = (value - _EPOCH) // _MILLI
            encoding.tokens.append(Token(path, "timestamp", zigzag(millis), (), top))
        elif name == "date":
            encoding.tokens.append(Token(path, "date", zigzag(value.toordinal() - _EPOCH_DAY),
                                         (), top))
        else:
            raise TypeError(f"unsupported Avro type {name}")

    for f in _raw_schema(kind)["fields"]:
        emit(f["name"], f["name"], f["type"], datum[f["name"]])
    return encoding


_MILLI = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def avro_readable(kind: RecordKind, raw: bytes) -> bool:
    """The independent oracle: does fastavro's pure-Python reader (which, unlike its
    compiled one, keeps every bit of a varint) read exactly these bytes as one datum of
    the kind's current schema, logical types applied?"""
    stream = BytesIO(raw)
    try:
        exact_schemaless_reader(stream, load_schema(kind), None)
    except Exception:  # fastavro fails in many ways on bad bytes
        return False
    return stream.tell() == len(raw)


def _avro_unreadable(kind: RecordKind, raw: bytes) -> bytes:
    # A strict prefix of a readable datum runs out before its last field: unreadable.
    return raw[:-1] if avro_readable(kind, raw) else raw


def avro_recipes(kind: RecordKind, encoding: Encoding | None = None) -> tuple[str, ...]:
    """The recipes for a kind; with an encoding, those it has the fields for (a snapshot
    without certified plan years has no int to overflow)."""
    common = ("byte-flip", "truncated", "missing-field", "wrong-type", "bad-enum-index",
              "bad-union-branch", "non-utf8", "huge-length", "int-overflow",
              "long-overflow", "impossible-date")
    if kind is RecordKind.AGENT_STATUS:
        has_int = encoding is None or any(t.type == "int" for t in encoding.tokens)
        return tuple(r for r in common
                     if r != "impossible-date" and (has_int or r != "int-overflow"))
    events = (*common, "bad-state", "huge-string", "bad-effective-date", "unknown-plan-year")
    return (*events, "missing-facilitator") if kind is RecordKind.PLAN_CHANGE else events


def corrupt_payload(kind: RecordKind, record: object, chooser: Chooser,
                    recipe: str | None = None, huge: int = HUGE_TEXT_MAX) -> Poison:
    """One bad schemaless Avro payload (current writer schema) made from ``record``;
    ``huge`` bounds the length of huge strings (a Kafka record must fit its topic)."""
    enc = avro_encoding(kind, record)
    recipe = recipe or chooser.choice(avro_recipes(kind, enc))
    tokens = enc.tokens
    error_type = INVALID

    def pick(*types: str) -> Token:
        return chooser.choice([t for t in tokens if t.type in types])

    if recipe == "byte-flip":
        raw = _avro_unreadable(kind, _flip(enc.raw, chooser))
    elif recipe == "truncated":
        raw = enc.raw[:chooser.integer(0, len(enc.raw) - 1)]
    elif recipe == "missing-field":
        gone = chooser.choice(sorted({t.field for t in tokens}))
        raw = _avro_unreadable(kind, b"".join(t.data for t in tokens if t.field != gone))
    elif recipe == "wrong-type":
        token = pick("string", "int", "long", "timestamp", "date", "enum")
        token.data = (zigzag(chooser.integer(-1000, 10**6)) if token.type == "string"
                      else avro_text(chooser.choice((b"2026", b"ACTIVE", b"x" * 40))))
        raw = _avro_unreadable(kind, enc.raw)
    elif recipe == "bad-enum-index":
        token = pick("enum")
        token.data = zigzag(chooser.integer(len(token.symbols), INT_LIMIT - 1))
        raw = enc.raw
    elif recipe == "bad-union-branch":
        token = pick("branch")
        token.data = zigzag(chooser.integer(2, 1000))
        raw = enc.raw
    elif recipe == "non-utf8":
        token = pick("string")
        token.data = avro_text(_insert_non_utf8(_string_body(token), chooser))
        raw = enc.raw
    elif recipe == "huge-length":
        token = pick("string")
        body = _string_body(token)
        length = chooser.choice((chooser.integer(len(enc.raw) + 1, 2**40),
                                 -chooser.integer(1, 2**40)))
        token.data = zigzag(length) + body
        raw = _avro_unreadable(kind, enc.raw)
    elif recipe == "int-overflow":
        token = pick("int")
        magnitude = chooser.integer(INT_LIMIT, LONG_LIMIT - 1)
        token.data = zigzag(magnitude if chooser.integer(0, 1) else -magnitude - 1)
        raw = enc.raw
    elif recipe == "long-overflow":
        # Past year 9999 (no datetime), past the long range, or past 64 bits.
        token = pick("timestamp")
        magnitude = chooser.integer(_MAX_MILLIS + 1, chooser.choice((LONG_LIMIT, 2**80)))
        token.data = zigzag(magnitude if chooser.integer(0, 1) else -magnitude)
        raw = enc.raw
    elif recipe == "impossible-date":
        token = pick("date")
        token.data = zigzag(chooser.choice((chooser.integer(_MAX_DAY + 1, INT_LIMIT - 1),
                                            chooser.integer(-INT_LIMIT, _MIN_DAY - 1))))
        raw = enc.raw
    else:
        error_type = _avro_validation_recipe(kind, recipe, enc, chooser, huge)
        raw = enc.raw
    readable = avro_readable(kind, raw)
    if not readable:
        error_type = INVALID
    return Poison(recipe, raw, error_type, readable)


def _string_body(token: Token) -> bytes:
    """The bytes of a string token without its length prefix."""
    stream = BytesIO(token.data)
    shift = length = 0
    while True:
        byte = stream.read(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return stream.read()


def _token(enc: Encoding, path: str) -> Token:
    return next(t for t in enc.tokens if t.path == path)


def _avro_validation_recipe(kind: RecordKind, recipe: str, enc: Encoding,
                            chooser: Chooser, huge: int) -> str:
    plan = "plan" if kind is RecordKind.ENROLLMENT else "to_plan"
    if recipe == "bad-state":
        _token(enc, "member_state").data = avro_text(chooser.choice(NOT_STATES).encode())
        return INVALID_STATE
    if recipe == "huge-string":
        _token(enc, "member_state").data = avro_text(_huge_text(chooser, huge).encode())
        return INVALID_STATE
    effective = _token(enc, "effective_date")
    day = date.fromordinal(_days(effective) + _EPOCH_DAY)
    if recipe == "bad-effective-date":
        if chooser.integer(0, 1):
            day = day.replace(day=chooser.integer(2, 28))
        else:
            day = day.replace(year=day.year + chooser.choice((-1, 1)))
        effective.data = zigzag(day.toordinal() - _EPOCH_DAY)
        return INVALID_EFFECTIVE_DATE
    if recipe == "unknown-plan-year":
        year = chooser.integer(FIRST_UNKNOWN_YEAR, 2099)
        _token(enc, f"{plan}.plan_year").data = zigzag(year)
        effective.data = zigzag(date(year, chooser.integer(1, 12), 1).toordinal() - _EPOCH_DAY)
        return UNKNOWN_PLAN_YEAR
    if recipe == "missing-facilitator":
        channel = _token(enc, "channel")
        channel.data = zigzag(channel.symbols.index(
            chooser.choice(("AGENT_APPLICATION", "EXTERNAL_CALL_CENTER"))))
        enc.tokens = [t for t in enc.tokens if t.path != "facilitating_agent_id"]
        _token(enc, "facilitating_agent_id|branch").data = zigzag(0)
        return MISSING_FACILITATOR
    raise ValueError(f"unknown recipe {recipe!r}")


def _days(token: Token) -> int:
    number = shift = 0
    for byte in token.data:
        number |= (byte & 0x7F) << shift
        shift += 7
    return (number >> 1) ^ -(number & 1)


Recipe = Callable[[RecordKind, object, Chooser], Poison]

__all__ = ["INPUT_KINDS", "Chooser", "DrawChooser", "Poison", "RandomChooser",
           "avro_encoding", "avro_readable", "corrupt_line", "corrupt_payload", "zigzag"]
