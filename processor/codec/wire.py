"""Avro on Kafka (contract.md "Wire format on Kafka"): record values, headers and keys.

Pure: no network, no clock. Two modes:

- ``WireFormat.FINGERPRINT`` (plain): the value is schemaless Avro binary and the header
  ``aor-schema-fingerprint`` holds the writer schema's 8-byte CRC-64-AVRO fingerprint of
  its parsing canonical form, little-endian (``codec.schemas.fingerprint``: the byte
  order of Avro's single-object encoding and of Java's ``parsingFingerprint64`` written
  little-endian). Decoding accepts the current and the ``schemas/history/`` writer
  schemas of the expected kind and resolves them to the current reader schema.
- ``WireFormat.CONFLUENT``: the value is magic byte ``0``, the 4-byte big-endian schema
  id, then schemaless Avro binary. Ids come from an injected registry adapter
  (``SchemaRegistry``; ``processor.kafka.registry`` has the Schema Registry one), so
  this module never talks to the network itself.

Every decoding failure is a ``DecodeError``: ``UNKNOWN_SCHEMA`` for a missing header,
an unknown fingerprint, a bad magic byte or an unknown schema id; ``INVALID_RECORD``
for a missing value or bytes that do not decode.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from processor.codec.avro_binary import decode, encode
from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.schemas import (
    Schema,
    fingerprint,
    history_schemas,
    load_schema,
    schema_by_fingerprint,
)
from processor.config import WireFormat
from processor.domain.model import (
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    Enrollment,
    ErrorType,
    PlanChange,
)

FINGERPRINT_HEADER = "aor-schema-fingerprint"
FINGERPRINT_SIZE = 8
MAGIC_BYTE = 0
_CONFLUENT_PREFIX = struct.Struct(">bI")  # magic byte, schema id (big-endian)
CONFLUENT_PREFIX_SIZE = _CONFLUENT_PREFIX.size  # 5

Headers = list[tuple[str, bytes]]
# What confluent-kafka's Message.headers() may give: None, a list of (name, value or
# None) or, as its type says, a mapping.
HeaderValue = str | bytes | None
HeadersIn = Sequence[tuple[str, HeaderValue]] | Mapping[str, HeaderValue] | None


class SchemaLookup(Protocol):
    """Schema id -> the parsed (fastavro) writer schema, or None when the id is unknown."""

    def writer_schema(self, schema_id: int) -> Schema | None: ...


class SchemaRegistry(SchemaLookup, Protocol):
    """A lookup that also knows the id of each kind's current schema (for encoding)."""

    def schema_id(self, kind: RecordKind) -> int: ...


def key_of(obj: object) -> bytes | None:
    """The Kafka key of a record (contract.md "Topics"): UTF-8 ``member_id`` for member
    records and outputs, ``agent_id`` for snapshots, and a dead letter's original key
    (None when the original record had none)."""
    if isinstance(obj, Enrollment | PlanChange | AorAssignment | CommissionAdjustment):
        return obj.member_id.encode("utf-8")
    if isinstance(obj, AgentStatusSnapshot):
        return obj.agent_id.encode("utf-8")
    if isinstance(obj, DeadLetter):
        return obj.key
    raise TypeError(f"no Kafka key for {type(obj).__name__}")


# A dead letter's message may quote the bad value (an unknown symbol, a state code of a
# megabyte): on a topic it is cut to this many characters.
MAX_ERROR_MESSAGE_CHARS = 2_000
# What a record costs beyond its key and value: record and batch framing, the topic
# name, the fingerprint header or Confluent prefix. Generous.
RECORD_OVERHEAD_BYTES = 1_024
_CUT_NOTE_BYTES = 256


def fit_dead_letter(letter: DeadLetter, max_bytes: int) -> DeadLetter:
    """``letter`` as it can be produced to a topic whose records hold at most
    ``max_bytes`` (the producer's ``message.max.bytes``).

    The error message is cut to ``MAX_ERROR_MESSAGE_CHARS``. Only when the original key
    and value alone leave no room (a poison record at the input topic's size limit) is
    the value cut to what fits, and the message says so: the untouched original stays in
    its input topic at ``source``/``partition``/``offset``. Without this, the dead letter
    would fail its transaction on every retry and the partition would never move on.
    """
    message = letter.error_message
    if len(message) > MAX_ERROR_MESSAGE_CHARS:
        message = f"{message[:MAX_ERROR_MESSAGE_CHARS]}... ({len(message):,} characters)"
        letter = replace(letter, error_message=message)
    value = letter.value or b""
    size = len(encode(letter)) + len(letter.key or b"") + RECORD_OVERHEAD_BYTES
    if size <= max_bytes or not value:
        return letter
    keep = max(0, len(value) - (size - max_bytes) - _CUT_NOTE_BYTES)
    note = (f" [value cut to its first {keep:,} of {len(value):,} bytes to fit the "
            f"dead-letter topic; the original is at {letter.source} partition "
            f"{letter.partition} offset {letter.offset}]")
    return replace(letter, value=value[:keep], error_message=message + note)


def header_value(headers: HeadersIn, name: str) -> bytes | None:
    """The last value of header ``name`` (Kafka allows repeats; the last one wins)."""
    found: HeaderValue = None
    if isinstance(headers, Mapping):
        found = headers.get(name)
    else:
        for key, value in headers or ():
            if key == name:
                found = value
    return found.encode("utf-8") if isinstance(found, str) else found


class WireCodec:
    """Encode domain records (and DeadLetters) to Kafka values and headers, and back."""

    def __init__(self, wire_format: WireFormat, registry: SchemaRegistry | None = None) -> None:
        if wire_format is WireFormat.CONFLUENT and registry is None:
            raise ValueError("wire_format=confluent needs a Schema Registry "
                             "(set schema_registry_url)")
        self.wire_format = wire_format
        self._registry = registry
        self._fingerprints: dict[RecordKind, bytes] = {}
        self._prefixes: dict[RecordKind, bytes] = {}
        # schema id -> resolved writer schema, or the reason it cannot be used.
        self._by_id: dict[int, Schema | str] = {}

    # ---------------------------------------------------------------- encoding

    def encode(self, obj: object) -> tuple[bytes, Headers]:
        """(value, headers) of a record with its kind's current schema."""
        kind = RecordKind.of(obj)
        payload = encode(obj)
        if self.wire_format is WireFormat.FINGERPRINT:
            return payload, [(FINGERPRINT_HEADER, self._fingerprint(kind))]
        return self._prefix(kind) + payload, []

    def _fingerprint(self, kind: RecordKind) -> bytes:
        fp = self._fingerprints.get(kind)
        if fp is None:
            fp = self._fingerprints[kind] = fingerprint(load_schema(kind))
        return fp

    def _prefix(self, kind: RecordKind) -> bytes:
        prefix = self._prefixes.get(kind)
        if prefix is None:
            assert self._registry is not None
            schema_id = self._registry.schema_id(kind)
            prefix = self._prefixes[kind] = _CONFLUENT_PREFIX.pack(MAGIC_BYTE, schema_id)
        return prefix

    # ---------------------------------------------------------------- decoding

    def decode(self, kind: RecordKind, value: bytes | None, headers: HeadersIn = None) -> object:
        """The domain object (or DeadLetter) of a Kafka value; DecodeError when it is not
        a ``kind`` record this processor can read."""
        if value is None:
            raise DecodeError(ErrorType.INVALID_RECORD,
                              f"no value: a {kind.schema_name} record was expected")
        if self.wire_format is WireFormat.FINGERPRINT:
            fp = header_value(headers, FINGERPRINT_HEADER)
            if fp is None:
                raise DecodeError(ErrorType.UNKNOWN_SCHEMA,
                                  f"no {FINGERPRINT_HEADER} header: the writer schema is "
                                  f"unknown")
            return decode(kind, value, schema_by_fingerprint(kind, fp))
        return decode(kind, value[CONFLUENT_PREFIX_SIZE:], self._confluent_writer(kind, value))

    def _confluent_writer(self, kind: RecordKind, value: bytes) -> Schema:
        if len(value) < CONFLUENT_PREFIX_SIZE or value[0] != MAGIC_BYTE:
            raise DecodeError(ErrorType.UNKNOWN_SCHEMA,
                              "not in the Confluent wire format (magic byte 0 and a 4-byte "
                              "schema id expected)")
        _, schema_id = _CONFLUENT_PREFIX.unpack_from(value)
        found = self._by_id.get(schema_id)
        if found is None:
            assert self._registry is not None
            found = self._by_id[schema_id] = _usable(self._registry.writer_schema(schema_id))
        if isinstance(found, str):
            raise DecodeError(ErrorType.UNKNOWN_SCHEMA, f"schema id {schema_id}: {found}")
        if found.get("name") != kind.schema_name:
            raise DecodeError(ErrorType.UNKNOWN_SCHEMA,
                              f"schema id {schema_id} is {found.get('name')}, not "
                              f"{kind.schema_name}")
        return found


def _usable(writer: Schema | None) -> Schema | str:
    """A registry schema, swapped for the identical local schema object when there is
    one (so decoding takes the no-resolution path), or why it cannot be used."""
    if writer is None:
        return "unknown to the Schema Registry"
    if not isinstance(writer, dict) or writer.get("type") != "record":
        return "not an Avro record schema"
    fp = fingerprint(writer)
    for kind in RecordKind:
        if writer.get("name") == kind.schema_name:
            for local in (load_schema(kind), *history_schemas(kind)):
                if fingerprint(local) == fp:
                    return local
    return writer

