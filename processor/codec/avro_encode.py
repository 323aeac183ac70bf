"""Avro binary encoding of domain objects, compiled from the schemas, and container files.

The bytes are those of ``fastavro.schemaless_writer(schema, to_record(obj))`` (and of
fastavro's container ``Writer``), produced without the intermediate dict and without
fastavro's per-value type dispatch, which for our records (a trace of a dozen rule checks,
each with two ``["null", "string"]`` unions) costs more than the decision itself.
tests/contract/test_avro_encode.py checks the equality on generated outputs and on
hypothesis-made records; the container writer is checked against fastavro's byte for byte.

Encoders append to a bytearray. Conversions are the codec's `to_avro` ones (UTC
milliseconds, naive datetimes refused, money quantized to cents and range-checked).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import cache, lru_cache
from io import BytesIO
from typing import IO, Any

from fastavro.write import Writer

from processor.codec.avro_codecs import CODECS, compress
from processor.codec.kinds import RecordKind
from processor.codec.schemas import Schema, load_schema
from processor.codec.values import _aware_utc, _money_out

Encoder = Callable[[bytearray, Any], None]

_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_EPOCH_SECONDS_ORDINAL = _EPOCH_ORDINAL * 86_400


def long_bytes(n: int) -> bytes:
    """Zigzag varint of a long, as Avro writes it."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Lengths, indexes and small numbers: one table lookup instead of the loop.
_SMALL = tuple(long_bytes(n) for n in range(4096))
_SMALL_LIMIT = len(_SMALL)


def write_long(out: bytearray, n: int) -> None:
    out += _SMALL[n] if 0 <= n < _SMALL_LIMIT else long_bytes(n)


def _string(out: bytearray, value: str) -> None:
    data = value.encode("utf-8")
    n = len(data)
    out += _SMALL[n] if n < _SMALL_LIMIT else long_bytes(n)
    out += data


def _bytes(out: bytearray, value: bytes) -> None:
    n = len(value)
    out += _SMALL[n] if n < _SMALL_LIMIT else long_bytes(n)
    out += value


def _boolean(out: bytearray, value: bool) -> None:
    out.append(1 if value else 0)


def _timestamp_millis(out: bytearray, value: Any) -> None:
    value = _aware_utc(value)  # refuses naive datetimes, truncates to milliseconds
    # Milliseconds since the epoch, exactly as fastavro computes them (no float).
    seconds = (value.toordinal() * 86_400 - _EPOCH_SECONDS_ORDINAL + value.hour * 3600
               + value.minute * 60 + value.second)
    write_long(out, seconds * 1000 + value.microsecond // 1000)


def _date(out: bytearray, value: Any) -> None:
    write_long(out, value.toordinal() - _EPOCH_ORDINAL)


@lru_cache(maxsize=4096)
def _money_bytes(value: Decimal) -> bytes:
    """decimal(12,2) as fastavro writes it: the unscaled integer in the fewest big-endian
    two's complement bytes that hold it with a sign bit, length first. Once per amount (a
    run has a few hundred distinct amounts); `value` is already quantized to cents."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), "finite"
    unscaled = int("".join(map(str, digits)) + "0" * (exponent + 2))
    data = (-unscaled if sign else unscaled).to_bytes(
        (unscaled.bit_length() + 8) // 8, "big", signed=True)
    return long_bytes(len(data)) + data


def _money(out: bytearray, value: Decimal) -> None:
    out += _money_bytes(_money_out(value))


class _Generator:
    """Writes one Python function per named record of a schema, fields inlined.

    Calling an encoder per field (closures) spends most of the time in calls: a rule trace
    is a dozen records of five fields. The generated code for a `["null", "string"]` field
    is the lines a hand-written encoder would have. Names in the code are Avro names
    (identifiers by the Avro specification, checked) and generated local names.
    """

    def __init__(self, named_schemas: dict[str, Schema]) -> None:
        self._named_schemas = named_schemas
        self.functions: dict[str, str] = {}  # record name -> function name
        self.sources: list[str] = []
        self.namespace: dict[str, Any] = {
            "SMALL": _SMALL, "LIMIT": _SMALL_LIMIT, "long_bytes": long_bytes,
            "timestamp_millis": _timestamp_millis, "date": _date, "money": _money,
        }
        self._counter = 0

    def _local(self) -> str:
        self._counter += 1
        return f"v{self._counter}"

    def record(self, schema: Schema) -> str:
        """The name of the function encoding this record (generated on first use)."""
        name = schema["name"]
        if name in self.functions:
            return self.functions[name]
        function = f"encode_{len(self.functions)}_{name.rsplit('.', 1)[-1]}"
        self.functions[name] = function
        body: list[str] = []
        for field in schema["fields"]:
            if not field["name"].isidentifier():
                raise ValueError(f"field name {field['name']!r} is not an identifier")
            value = self._local()
            body.append(f"{value} = obj.{field['name']}")
            body += self._value(field["type"], value)
        lines = [f"def {function}(out, obj):", *("    " + line for line in body)]
        self.sources.append("\n".join(lines))
        return function

    def _length_prefixed(self, data: str) -> list[str]:
        n = self._local()
        return [f"{n} = len({data})",
                f"out += SMALL[{n}] if {n} < LIMIT else long_bytes({n})",
                f"out += {data}"]

    def _value(self, avro_type: Any, value: str) -> list[str]:
        if isinstance(avro_type, list):
            if len(avro_type) != 2 or avro_type[0] != "null":
                raise ValueError(f"only [null, T] unions are supported, not {avro_type}")
            inner = self._value(avro_type[1], value)
            return [f"if {value} is None:", "    out.append(0)",  # branch 0: null
                    "else:", "    out.append(2)",  # branch 1, zigzag
                    *("    " + line for line in inner)]
        if isinstance(avro_type, str):
            if avro_type in self._named_schemas:
                return self._value(self._named_schemas[avro_type], value)
            return self._primitive(avro_type, value)
        base = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical is not None:
            if (base, logical) == ("long", "timestamp-millis"):
                return [f"timestamp_millis(out, {value})"]
            if (base, logical) == ("int", "date"):
                return [f"date(out, {value})"]
            if (base, logical) == ("bytes", "decimal"):
                if (avro_type["precision"], avro_type["scale"]) != (12, 2):
                    raise ValueError("money must be decimal(12,2)")
                return [f"money(out, {value})"]
            raise ValueError(f"unsupported logical type {logical} on {base}")
        if base == "record":
            return [f"{self.record(avro_type)}(out, {value})"]
        if base == "enum":
            table = f"ENUM_{avro_type['name'].rsplit('.', 1)[-1]}"
            # StrEnum members hash and compare as their value.
            self.namespace[table] = {s: _SMALL[i] for i, s in enumerate(avro_type["symbols"])}
            return [f"out += {table}[{value}]"]
        if base == "array":
            item = self._local()
            n = self._local()
            return [f"if {value}:",
                    f"    {n} = len({value})",
                    f"    out += SMALL[{n}] if {n} < LIMIT else long_bytes({n})",
                    f"    for {item} in {value}:",
                    *("        " + line for line in self._value(avro_type["items"], item)),
                    "out.append(0)"]  # end of blocks
        return self._value(base, value)

    def _primitive(self, avro_type: str, value: str) -> list[str]:
        if avro_type == "string":
            data = self._local()
            return [f"{data} = {value}.encode()", *self._length_prefixed(data)]
        if avro_type == "bytes":
            return self._length_prefixed(value)
        if avro_type == "boolean":
            return [f"out.append(1 if {value} else 0)"]
        if avro_type in ("int", "long"):
            return [f"out += SMALL[{value}] if 0 <= {value} < LIMIT else long_bytes({value})"]
        raise ValueError(f"unsupported Avro type {avro_type!r}")


def compile_encoder(schema: Schema) -> Encoder:
    """An encoder for a parsed (fastavro) record schema."""
    generator = _Generator(schema.get("__named_schemas", {}))
    function = generator.record(schema)
    namespace = dict(generator.namespace)
    exec("\n\n".join(generator.sources), namespace)  # code generated above from the schema
    encoder: Encoder = namespace[function]
    return encoder


@cache
def record_encoder(kind: RecordKind) -> Encoder:
    return compile_encoder(load_schema(kind))


def encode(obj: object) -> bytes:
    """Schemaless Avro binary of a domain object (or DeadLetter), current schema of its kind."""
    out = bytearray()
    record_encoder(RecordKind.of(obj))(out, obj)
    return bytes(out)


SYNC_INTERVAL = 16_000  # fastavro's default: a block is closed once it holds this many bytes


class ContainerWriter:
    """An Avro object container file, written as fastavro's ``Writer`` writes it.

    The header (magic, metadata with the schema and codec, sync marker) is fastavro's own;
    blocks hold the records written since the last one, closed when they reach
    SYNC_INTERVAL bytes and at `flush`, compressed with any codec of the specification.
    """

    def __init__(self, stream: IO[bytes], kind: RecordKind, codec: str,
                 sync_marker: bytes) -> None:
        if codec not in CODECS:
            raise ValueError(f"unsupported codec {codec} (one of {', '.join(CODECS)})")
        header = BytesIO()
        Writer(header, load_schema(kind), codec=codec, sync_marker=sync_marker)
        stream.write(header.getvalue())
        self._stream = stream
        self._encode = record_encoder(kind)
        self._codec = codec
        self._sync_marker = sync_marker
        self._block = bytearray()
        self._count = 0

    def write(self, obj: object) -> None:
        self._encode(self._block, obj)
        self._count += 1
        if len(self._block) >= SYNC_INTERVAL:
            self._dump()

    def _dump(self) -> None:
        data = compress(self._codec, bytes(self._block))
        self._stream.write(long_bytes(self._count) + long_bytes(len(data)) + data
                           + self._sync_marker)
        self._block.clear()
        self._count = 0

    def flush(self) -> None:
        if self._block or self._count:
            self._dump()
        self._stream.flush()
