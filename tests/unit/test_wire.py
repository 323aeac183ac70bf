"""Avro on Kafka (codec.wire): both wire formats, byte layouts, and the failures that
become dead letters."""

from __future__ import annotations

import dataclasses
import io
import json
import struct

import pytest
from fastavro import parse_schema, schemaless_writer

from processor.codec.avro_binary import encode as avro_encode
from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.records import to_record
from processor.codec.schemas import (
    Schema,
    canonical_form,
    fingerprint,
    history_schemas,
    load_schema,
    schema_dir,
)
from processor.codec.wire import (
    FINGERPRINT_HEADER,
    WireCodec,
    header_value,
    key_of,
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
from tests.contract.contract_samples import FULL, VARIANTS

CASES = [pytest.param(samples[kind], id=f"{kind.value}-{variant}")
         for variant, samples in VARIANTS.items() for kind in RecordKind]

# Ids with four distinct bytes, so the big-endian layout is visible.
IDS = {kind: 0x01020300 + n for n, kind in enumerate(RecordKind)}


class FakeRegistry:
    """codec.wire.SchemaRegistry from dicts: no network."""

    def __init__(self, extra: dict[int, Schema] | None = None) -> None:
        self.by_id: dict[int, Schema] = {IDS[k]: load_schema(k) for k in RecordKind}
        self.by_id.update(extra or {})
        self.lookups: list[int] = []

    def schema_id(self, kind: RecordKind) -> int:
        return IDS[kind]

    def writer_schema(self, schema_id: int) -> Schema | None:
        self.lookups.append(schema_id)
        return self.by_id.get(schema_id)


def plain() -> WireCodec:
    return WireCodec(WireFormat.FINGERPRINT)


def confluent(registry: FakeRegistry | None = None) -> WireCodec:
    return WireCodec(WireFormat.CONFLUENT, registry or FakeRegistry())


def rabin64(data: bytes) -> int:
    """CRC-64-AVRO as the Avro specification writes it, independent of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp & 0xFFFFFFFFFFFFFFFF)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def assert_decode_error(error_type: ErrorType, codec: WireCodec, kind: RecordKind,
                        value: bytes | None, headers: list[tuple[str, bytes]] | None) -> str:
    with pytest.raises(DecodeError) as caught:
        codec.decode(kind, value, headers)
    assert caught.value.error_type is error_type, caught.value.message
    return caught.value.message


# ---------------------------------------------------------------- plain (fingerprint)


@pytest.mark.parametrize("obj", CASES)
def test_plain_round_trip(obj: object) -> None:
    kind = RecordKind.of(obj)
    value, headers = plain().encode(obj)
    assert value == avro_encode(obj)  # schemaless Avro, nothing in front
    assert headers == [(FINGERPRINT_HEADER, fingerprint(load_schema(kind)))]
    assert len(headers[0][1]) == 8
    assert plain().decode(kind, value, headers) == obj


def test_fingerprint_header_is_little_endian_crc64_avro() -> None:
    # The Avro specification's single-object encoding example: "int" -> C3 01 8F 5C ...
    assert fingerprint("int").hex() == "8f5c393f1ad57572"
    schema = load_schema(RecordKind.ENROLLMENT)
    _, headers = plain().encode(FULL[RecordKind.ENROLLMENT])
    expected = rabin64(canonical_form(schema).encode()).to_bytes(8, "little")
    assert headers[0][1] == expected


def test_plain_decodes_a_history_writer_schema() -> None:
    enrollment = FULL[RecordKind.ENROLLMENT]
    assert isinstance(enrollment, Enrollment)
    (v0,) = history_schemas(RecordKind.ENROLLMENT)
    datum = {k: v for k, v in to_record(enrollment).items() if k != "writing_agent_id"}
    buffer = io.BytesIO()
    schemaless_writer(buffer, v0, datum)
    decoded = plain().decode(RecordKind.ENROLLMENT, buffer.getvalue(),
                             [(FINGERPRINT_HEADER, fingerprint(v0))])
    assert decoded == dataclasses.replace(enrollment, writing_agent_id=None)


@pytest.mark.parametrize("headers", [
    pytest.param(None, id="no-headers"),
    pytest.param([], id="empty"),
    pytest.param([("other", b"x")], id="other-header"),
    pytest.param([(FINGERPRINT_HEADER, b"\x00" * 8)], id="unknown-fingerprint"),
    pytest.param([(FINGERPRINT_HEADER, b"\x01\x02")], id="short-fingerprint"),
    pytest.param([(FINGERPRINT_HEADER,
                   fingerprint(load_schema(RecordKind.PLAN_CHANGE)))], id="other-kind"),
])
def test_plain_unknown_schema(headers: list[tuple[str, bytes]] | None) -> None:
    value, _ = plain().encode(FULL[RecordKind.ENROLLMENT])
    assert_decode_error(ErrorType.UNKNOWN_SCHEMA, plain(), RecordKind.ENROLLMENT, value,
                        headers)


def test_plain_last_repeated_header_wins_and_mappings_work() -> None:
    obj = FULL[RecordKind.ASSIGNMENT]
    value, headers = plain().encode(obj)
    repeated = [(FINGERPRINT_HEADER, b"\x00" * 8), *headers]
    assert plain().decode(RecordKind.ASSIGNMENT, value, repeated) == obj
    assert plain().decode(RecordKind.ASSIGNMENT, value, dict(headers)) == obj
    assert header_value([(FINGERPRINT_HEADER, "ab")], FINGERPRINT_HEADER) == b"ab"


@pytest.mark.parametrize("cut", [1, 10, -1])
def test_plain_truncated_payload_is_invalid(cut: int) -> None:
    value, headers = plain().encode(FULL[RecordKind.PLAN_CHANGE])
    assert_decode_error(ErrorType.INVALID_RECORD, plain(), RecordKind.PLAN_CHANGE,
                        value[:cut], headers)


def test_plain_trailing_bytes_and_missing_value_are_invalid() -> None:
    value, headers = plain().encode(FULL[RecordKind.PLAN_CHANGE])
    assert_decode_error(ErrorType.INVALID_RECORD, plain(), RecordKind.PLAN_CHANGE,
                        value + b"\x00", headers)
    assert_decode_error(ErrorType.INVALID_RECORD, plain(), RecordKind.PLAN_CHANGE,
                        None, headers)


# ---------------------------------------------------------------- confluent


@pytest.mark.parametrize("obj", CASES)
def test_confluent_round_trip(obj: object) -> None:
    kind = RecordKind.of(obj)
    value, headers = confluent().encode(obj)
    assert headers == []
    assert value[0] == 0  # magic byte
    assert value[1:5] == IDS[kind].to_bytes(4, "big") == bytes([1, 2, 3, IDS[kind] & 0xFF])
    assert value[5:] == avro_encode(obj)
    assert confluent().decode(kind, value, None) == obj


def test_confluent_looks_each_id_up_once() -> None:
    registry = FakeRegistry()
    codec = confluent(registry)
    obj = FULL[RecordKind.ADJUSTMENT]
    value, _ = codec.encode(obj)
    for _ in range(3):
        assert codec.decode(RecordKind.ADJUSTMENT, value, None) == obj
    assert registry.lookups == [IDS[RecordKind.ADJUSTMENT]]


def test_confluent_decodes_a_history_writer_schema() -> None:
    snapshot = FULL[RecordKind.AGENT_STATUS]
    assert isinstance(snapshot, AgentStatusSnapshot)
    (v0,) = history_schemas(RecordKind.AGENT_STATUS)
    # As a registry hands it back: parsed from its JSON text, not the local object.
    parsed = parse_schema(_history_json(RecordKind.AGENT_STATUS))
    assert isinstance(parsed, dict)
    registry = FakeRegistry({77: parsed})
    datum = {k: v for k, v in to_record(snapshot).items() if k != "agency_id"}
    buffer = io.BytesIO(struct.pack(">bI", 0, 77))
    buffer.seek(5)
    schemaless_writer(buffer, v0, datum)
    decoded = confluent(registry).decode(RecordKind.AGENT_STATUS, buffer.getvalue(), None)
    assert decoded == dataclasses.replace(snapshot, agency_id=None)


def _history_json(kind: RecordKind) -> Schema:
    """The v0 history .avsc of a kind as JSON, as a Schema Registry would return it."""
    text = (schema_dir() / "history" / f"{kind.record_name}.v0.avsc").read_text()
    parsed: Schema = json.loads(text)
    return parsed


@pytest.mark.parametrize(("value", "reason"), [
    pytest.param(b"", "not in the Confluent wire format", id="empty"),
    pytest.param(b"\x00\x00\x00", "not in the Confluent wire format", id="short"),
    pytest.param(b"\x01\x01\x02\x03\x00", "not in the Confluent wire format", id="magic-1"),
    pytest.param(b"\x00\x00\x00\x00\x63\x02", "unknown to the Schema Registry", id="unknown-id"),
    pytest.param(struct.pack(">bI", 0, IDS[RecordKind.PLAN_CHANGE]) + b"\x02",
                 "is aor.v1.PlanChange, not aor.v1.Enrollment", id="other-kind"),
])
def test_confluent_unknown_schema(value: bytes, reason: str) -> None:
    message = assert_decode_error(ErrorType.UNKNOWN_SCHEMA, confluent(),
                                  RecordKind.ENROLLMENT, value, None)
    assert reason in message


def test_confluent_truncated_payload_is_invalid() -> None:
    value, _ = confluent().encode(FULL[RecordKind.ASSIGNMENT])
    for cut in (5, 6, len(value) - 1):
        assert_decode_error(ErrorType.INVALID_RECORD, confluent(), RecordKind.ASSIGNMENT,
                            value[:cut], None)
    assert_decode_error(ErrorType.INVALID_RECORD, confluent(), RecordKind.ASSIGNMENT,
                        None, None)


def test_confluent_needs_a_registry() -> None:
    with pytest.raises(ValueError, match="Schema Registry"):
        WireCodec(WireFormat.CONFLUENT)


# ---------------------------------------------------------------- keys


def test_keys() -> None:
    enrollment = FULL[RecordKind.ENROLLMENT]
    change = FULL[RecordKind.PLAN_CHANGE]
    snapshot = FULL[RecordKind.AGENT_STATUS]
    assignment = FULL[RecordKind.ASSIGNMENT]
    adjustment = FULL[RecordKind.ADJUSTMENT]
    letter = FULL[RecordKind.DEAD_LETTER]
    assert isinstance(enrollment, Enrollment) and isinstance(change, PlanChange)
    assert isinstance(snapshot, AgentStatusSnapshot)
    assert isinstance(assignment, AorAssignment)
    assert isinstance(adjustment, CommissionAdjustment) and isinstance(letter, DeadLetter)
    assert key_of(enrollment) == enrollment.member_id.encode()
    assert key_of(change) == change.member_id.encode()
    assert key_of(snapshot) == snapshot.agent_id.encode()
    assert key_of(assignment) == assignment.member_id.encode()
    assert key_of(adjustment) == adjustment.member_id.encode()  # not the agent's
    assert key_of(letter) == letter.key
    assert key_of(dataclasses.replace(letter, key=None)) is None
    assert key_of(dataclasses.replace(enrollment, member_id="M-é")) == "M-é".encode()
    with pytest.raises(TypeError):
        key_of("not a record")
