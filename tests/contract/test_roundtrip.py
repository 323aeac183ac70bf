"""Round trips: domain -> Avro / JSON -> domain, and older writers -> current reader."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.codec.avro_binary import decode, encode
from processor.codec.errors import DecodeError
from processor.codec.jsonl import decode_line, encode_line
from processor.codec.kinds import INPUT_KINDS, RecordKind
from processor.codec.records import from_record, to_record
from processor.codec.schemas import history_schemas, load_schema
from processor.domain.model import (
    AgentStatusSnapshot,
    CommissionAdjustment,
    Enrollment,
    PlanRef,
    PlanType,
)
from tests.contract.contract_samples import FULL, MINIMAL, T0, VARIANTS

CASES = [
    pytest.param(samples[kind], id=f"{kind.value}-{variant}")
    for variant, samples in VARIANTS.items()
    for kind in RecordKind
]


@pytest.mark.parametrize("obj", CASES)
def test_avro_round_trip(obj: object) -> None:
    assert decode(RecordKind.of(obj), encode(obj)) == obj


@pytest.mark.parametrize("obj", CASES)
def test_json_round_trip(obj: object) -> None:
    line = encode_line(obj)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_line(RecordKind.of(obj), line.rstrip(b"\n")) == obj


@pytest.mark.parametrize("obj", CASES)
def test_record_round_trip(obj: object) -> None:
    record = to_record(obj)
    assert list(record) == [f["name"] for f in load_schema(RecordKind.of(obj))["fields"]]
    assert from_record(RecordKind.of(obj), record) == obj


def test_decoded_lists_are_tuples() -> None:
    snapshot = decode_line(RecordKind.AGENT_STATUS, encode_line(FULL[RecordKind.AGENT_STATUS]))
    assert isinstance(snapshot, AgentStatusSnapshot)
    assert isinstance(snapshot.licensed_states, tuple)


# --- JSON input leniency the contract allows ----------------------------------------------


def enrollment_line(**changes: Any) -> bytes:
    data = json.loads(encode_line(FULL[RecordKind.ENROLLMENT]))
    data.update(changes)
    for name in [k for k, v in changes.items() if v is ...]:
        del data[name]
    return json.dumps(data).encode()


def decoded_enrollment(**changes: Any) -> Enrollment:
    decoded = decode_line(RecordKind.ENROLLMENT, enrollment_line(**changes))
    assert isinstance(decoded, Enrollment)
    return decoded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T10:00:00Z", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        ("2026-01-15T10:00:00+00:00", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        ("2026-01-15T10:00:00-00:00", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        ("2026-01-15t10:00:00z", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        ("2026-01-15T05:00:00-05:00", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        ("2026-01-15T11:30:00.250+01:30", datetime(2026, 1, 15, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-01-15T10:00:00.1Z", datetime(2026, 1, 15, 10, 0, 0, 100000, tzinfo=UTC)),
        ("2026-01-15T10:00:00.123999999Z", datetime(2026, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_timestamp_inputs(text: str, expected: datetime) -> None:
    decoded = decoded_enrollment(occurred_at=text).occurred_at
    assert decoded == expected
    assert decoded.tzinfo is UTC


def test_absent_optional_fields_and_unknown_fields() -> None:
    decoded = decoded_enrollment(writing_agent_id=..., added_later={"x": [1, None]})
    assert decoded.writing_agent_id is None


def test_money_inputs_are_normalised_to_cents() -> None:
    base = json.loads(encode_line(FULL[RecordKind.ADJUSTMENT]))
    for text, expected in [("318", "318.00"), ("318.1", "318.10"), ("-0.00", "0.00")]:
        line = json.dumps({**base, "amount": text}).encode()
        decoded = decode_line(RecordKind.ADJUSTMENT, line)
        assert isinstance(decoded, CommissionAdjustment)
        assert decoded.amount is not None and str(decoded.amount) == expected


def test_json_and_avro_agree_on_sub_millisecond_time() -> None:
    """Both paths truncate to the millisecond, so a record means the same on either."""
    precise = Enrollment(
        "e",
        datetime(2026, 1, 15, 10, 0, 0, 123999, tzinfo=UTC),
        datetime(2026, 1, 15, 5, 0, 0, 999, tzinfo=timezone(timedelta(hours=-5))),
        "m",
        "CA",
        PlanRef("p", PlanType.MA, 2026),
        date(2026, 2, 1),
    )
    via_avro = decode(RecordKind.ENROLLMENT, encode(precise))
    via_json = decode_line(RecordKind.ENROLLMENT, encode_line(precise))
    assert via_avro == via_json
    assert isinstance(via_avro, Enrollment)
    assert via_avro.occurred_at == datetime(2026, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)
    assert via_avro.recorded_at == datetime(2026, 1, 15, 10, tzinfo=UTC)


def test_encoding_refuses_naive_datetimes() -> None:
    naive = Enrollment(
        "e", T0.replace(tzinfo=None), T0, "m", "CA", PlanRef("p", PlanType.MA, 2026), date.min
    )
    with pytest.raises(ValueError, match="naive"):
        encode(naive)
    with pytest.raises(ValueError, match="naive"):
        encode_line(naive)


def test_encoding_refuses_sub_cent_money() -> None:
    adjustment = MINIMAL[RecordKind.ADJUSTMENT]
    assert isinstance(adjustment, CommissionAdjustment)
    bad = dataclasses.replace(adjustment, amount=Decimal("1.005"))
    with pytest.raises(ValueError, match="decimal places"):
        encode(bad)


# --- older writers -------------------------------------------------------------------------


def old_payload(kind: RecordKind, schema: dict[str, Any]) -> bytes:
    full = to_record(FULL[kind])
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, {f["name"]: full[f["name"]] for f in schema["fields"]})
    return buffer.getvalue()


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_history_writer_decodes_to_current_domain(kind: RecordKind) -> None:
    for schema in history_schemas(kind):
        decoded = decode(kind, old_payload(kind, schema), writer_schema=schema)
        missing = {f["name"] for f in load_schema(kind)["fields"]} - {
            f["name"] for f in schema["fields"]
        }
        expected = to_record(FULL[kind]) | dict.fromkeys(missing)
        assert to_record(decoded) == expected


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_history_payload_without_writer_schema_is_invalid(kind: RecordKind) -> None:
    """Reading old bytes as current ones must fail loudly, not shift fields."""
    for schema in history_schemas(kind):
        with pytest.raises(DecodeError):
            decode(kind, old_payload(kind, schema))


# --- properties ------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_moments = st.datetimes(timezones=st.just(UTC))
_money = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)

_enrollments = st.builds(
    Enrollment,
    event_id=_text,
    occurred_at=_moments,
    recorded_at=_moments,
    member_id=_text,
    member_state=_text,
    plan=st.builds(PlanRef, _text, st.sampled_from(PlanType), st.integers(-(2**31), 2**31 - 1)),
    effective_date=st.dates(),
    writing_agent_id=st.none() | _text,
)


@settings(max_examples=150, deadline=None)
@given(_enrollments, _money)
def test_avro_and_json_agree(enrollment: Enrollment, amount: Decimal) -> None:
    via_avro = decode(RecordKind.ENROLLMENT, encode(enrollment))
    via_json = decode_line(RecordKind.ENROLLMENT, encode_line(enrollment))
    assert via_avro == via_json
    assert encode_line(via_avro) == encode_line(via_json)
    adjustment = FULL[RecordKind.ADJUSTMENT]
    assert isinstance(adjustment, CommissionAdjustment)
    changed = to_record(adjustment) | {"amount": amount}
    decoded = from_record(RecordKind.ADJUSTMENT, changed)
    assert decode_line(RecordKind.ADJUSTMENT, encode_line(decoded)) == decoded
    assert decode(RecordKind.ADJUSTMENT, encode(decoded)) == decoded
