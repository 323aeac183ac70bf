"""Poison Kafka records: a bad payload (``corrupt.corrupt_payload``) behind a good frame,
or a good payload behind a bad frame (header, schema id, key, no value), for either wire
format (contract.md "Wire format on Kafka")."""

from __future__ import annotations

import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from processor.codec.kinds import RecordKind
from processor.codec.schemas import fingerprint, history_schemas, load_schema
from processor.codec.wire import FINGERPRINT_HEADER, WireCodec, key_of
from processor.config import WireFormat
from processor.domain.model import ErrorType
from tests.poison.corrupt import INVALID, Chooser, corrupt_payload

UNKNOWN_SCHEMA = ErrorType.UNKNOWN_SCHEMA.value
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class WirePoison:
    """A record to produce as is, and the dead letter's expected error type."""

    recipe: str
    kind: RecordKind
    key: bytes | None
    value: bytes | None
    headers: Headers | None
    error_type: str


MEMBER_RECIPES = ("null-key", "key-mismatch", "non-utf8-key")
FINGERPRINT_RECIPES = ("payload", "payload", "payload", "payload", "missing-header",
                       "unknown-fingerprint", "other-kind-fingerprint", "short-fingerprint",
                       "null-value")
CONFLUENT_RECIPES = ("payload", "payload", "payload", "payload", "bad-magic",
                     "unknown-schema-id", "other-kind-schema-id", "short-value", "null-value")


def recipes(kind: RecordKind, wire_format: WireFormat) -> tuple[str, ...]:
    base = FINGERPRINT_RECIPES if wire_format is WireFormat.FINGERPRINT else CONFLUENT_RECIPES
    # agent-status keys are not checked: the table is global, a key only spreads load.
    return base if kind is RecordKind.AGENT_STATUS else (*base, *MEMBER_RECIPES)


def _known_fingerprints() -> set[bytes]:
    return {fingerprint(s) for k in RecordKind for s in (load_schema(k), *history_schemas(k))}


def _other_kind(kind: RecordKind, chooser: Chooser) -> RecordKind:
    return chooser.choice([k for k in RecordKind if k is not kind])


def wire_poison(kind: RecordKind, record: object, codec: WireCodec, chooser: Chooser,
                kind_ids: Mapping[RecordKind, int] | None = None,
                known_ids: Collection[int] = (), recipe: str | None = None,
                huge: int = 900_000) -> WirePoison:
    """One poison record of ``kind`` made from the good ``record``. Confluent mode:
    ``kind_ids`` are the registry's ids of each kind's current schema and ``known_ids``
    every id it holds, so that an unknown one can be picked. ``huge`` bounds huge strings:
    a record must fit its topic (librdkafka's default message.max.bytes is 1,000,000)."""
    recipe = recipe or chooser.choice(recipes(kind, codec.wire_format))
    encoded, encoded_headers = codec.encode(record)
    value: bytes | None = encoded
    headers: Headers = encoded_headers
    key = key_of(record)
    error_type = INVALID
    if recipe == "payload":
        poison = corrupt_payload(kind, record, chooser, huge=huge)
        prefix = encoded[:5] if codec.wire_format is WireFormat.CONFLUENT else b""
        return WirePoison(f"payload:{poison.recipe}", kind, key, prefix + poison.raw,
                          headers or None, poison.error_type)
    if recipe == "missing-header":
        headers, error_type = chooser.choice(([], [("other-header", b"x")])), UNKNOWN_SCHEMA
    elif recipe == "unknown-fingerprint":
        known = _known_fingerprints()
        fp = bytes(chooser.integer(0, 255) for _ in range(8))
        while fp in known:
            fp = bytes((fp[0] ^ 1,)) + fp[1:]
        headers, error_type = [(FINGERPRINT_HEADER, fp)], UNKNOWN_SCHEMA
    elif recipe == "other-kind-fingerprint":
        headers = [(FINGERPRINT_HEADER, fingerprint(load_schema(_other_kind(kind, chooser))))]
        error_type = UNKNOWN_SCHEMA
    elif recipe == "short-fingerprint":
        fp = fingerprint(load_schema(kind))
        headers = [(FINGERPRINT_HEADER, fp[:chooser.integer(0, 7)])]
        error_type = UNKNOWN_SCHEMA
    elif recipe == "bad-magic":
        value = bytes((chooser.integer(1, 255),)) + encoded[1:]
        error_type = UNKNOWN_SCHEMA
    elif recipe == "unknown-schema-id":
        schema_id = chooser.integer(0, 2**31 - 1)
        while schema_id in known_ids:
            schema_id += 1
        value, error_type = b"\x00" + struct.pack(">I", schema_id) + encoded[5:], UNKNOWN_SCHEMA
    elif recipe == "other-kind-schema-id":  # a registered id, of another record type
        assert kind_ids is not None
        schema_id = kind_ids[_other_kind(kind, chooser)]
        value, error_type = b"\x00" + struct.pack(">I", schema_id) + encoded[5:], UNKNOWN_SCHEMA
    elif recipe == "short-value":
        value, error_type = encoded[:chooser.integer(0, 4)], UNKNOWN_SCHEMA
    elif recipe == "null-value":
        value = None
    elif recipe == "null-key":
        key = None
    elif recipe == "key-mismatch":
        assert key is not None
        key = chooser.choice((key + b"x", key.upper(), b"mbr-someone-else", key[:-1], b""))
    elif recipe == "non-utf8-key":
        key = chooser.choice((b"\xff\xfe", b"mbr-\xc3(", (key or b"") + b"\x80"))
    else:
        raise ValueError(f"unknown recipe {recipe!r}")
    return WirePoison(recipe, kind, key, value, headers or None, error_type)
