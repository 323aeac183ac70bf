"""The fast output encoders write exactly the bytes of the reference ones.

- JSON Lines: orjson on `to_jsonable` against json.JSONEncoder(ensure_ascii=False,
  separators=(",", ":"), allow_nan=False) on `to_json`, the encoder the contract was
  written with.
- Avro: the generated encoders of processor.codec.avro_encode against fastavro's
  schemaless_writer on `to_record`, and ContainerWriter against fastavro's Writer.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastavro import schemaless_writer
from fastavro.write import Writer
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.codec.avro_encode import SYNC_INTERVAL, ContainerWriter, encode
from processor.codec.dead_letter import DeadLetter
from processor.codec.fields import record_codec
from processor.codec.jsonl import encode_line
from processor.codec.kinds import RecordKind
from processor.codec.records import to_record
from processor.codec.schemas import load_schema, sync_marker
from processor.domain.model import (
    AdjustmentKind,
    AorAssignment,
    Basis,
    Channel,
    CommissionAdjustment,
    EventType,
    Outcome,
    PlanRef,
    PlanType,
    Reason,
    RuleCheck,
)
from tests.contract.contract_samples import VARIANTS

REFERENCE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def reference_line(obj: object) -> bytes:
    record = record_codec(RecordKind.of(obj)).to_json(obj)
    return REFERENCE_JSON.encode(record).encode("utf-8") + b"\n"


def reference_avro(obj: object) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, load_schema(RecordKind.of(obj)), to_record(obj))
    return buffer.getvalue()


SAMPLES = [
    pytest.param(samples[kind], id=f"{kind.value}-{variant}")
    for variant, samples in VARIANTS.items()
    for kind in RecordKind
]


@pytest.mark.parametrize("obj", SAMPLES)
def test_samples_encode_as_the_reference(obj: object) -> None:
    assert encode_line(obj) == reference_line(obj)
    assert encode(obj) == reference_avro(obj)


# Any Unicode text but lone surrogates (which no encoder can write), control characters,
# quotes and backslashes included.
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_moments = st.datetimes(min_value=datetime(1, 1, 2), timezones=st.just(UTC))  # noqa: DTZ001
_money = st.decimals(min_value=-(10**10) + 1, max_value=10**10 - 1, places=2,
                     allow_nan=False, allow_infinity=False)
_plans = st.builds(PlanRef, _text, st.sampled_from(PlanType), st.integers(-(2**31), 2**31 - 1))
_checks = st.builds(RuleCheck, _text, st.none() | _text, st.booleans(), st.none() | _text, _text)
_long = st.integers(-(2**63), 2**63 - 1)

_assignments = st.builds(
    AorAssignment, _text, st.integers(0, 2**31 - 1), st.none() | _text, _text,
    st.sampled_from(EventType), _text, _text, _plans, st.dates(), _moments, _moments,
    st.sampled_from(Outcome), st.sampled_from(Reason), st.none() | _text, st.none() | _text,
    st.none() | _text, st.none() | st.sampled_from(Channel), st.booleans(),
    st.lists(_checks, max_size=15).map(tuple), _text,
)
_adjustments = st.builds(
    CommissionAdjustment, _text, _text, _text, _text, st.sampled_from(AdjustmentKind),
    st.none() | st.sampled_from(Basis), _plans, st.dates(), st.none() | st.integers(0, 12),
    st.none() | _money, st.none() | _money, st.none() | _text, st.none() | _text, _text,
)
_dead_letters = st.builds(
    DeadLetter, _text, st.none() | st.integers(-(2**31), 2**31 - 1), st.none() | _long,
    st.none() | st.binary(max_size=50), st.none() | st.binary(max_size=50), _text, _text,
    _moments,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_assignments, _adjustments, _dead_letters))
def test_outputs_encode_as_the_reference(obj: object) -> None:
    assert encode_line(obj) == reference_line(obj)
    assert encode(obj) == reference_avro(obj)


def test_dates_and_times_at_the_edges() -> None:
    sample = VARIANTS["full"][RecordKind.ADJUSTMENT]
    assert isinstance(sample, CommissionAdjustment)
    for day in (date(1, 1, 1), date(1969, 12, 31), date(1970, 1, 1), date(9999, 12, 31)):
        obj = dataclasses.replace(sample, effective_date=day)
        assert encode(obj) == reference_avro(obj)
        assert encode_line(obj) == reference_line(obj)
    letter = VARIANTS["full"][RecordKind.DEAD_LETTER]
    assert isinstance(letter, DeadLetter)
    for moment in (datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
                   datetime(1970, 1, 1, tzinfo=UTC),
                   datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)):
        obj2 = dataclasses.replace(letter, failed_at=moment)
        assert encode(obj2) == reference_avro(obj2)
        assert encode_line(obj2) == reference_line(obj2)
    for amount in ("0.00", "-0.01", "0.01", "127.99", "-128.00", "9999999999.99"):
        obj = dataclasses.replace(sample, amount=Decimal(amount))
        assert encode(obj) == reference_avro(obj)


@pytest.mark.parametrize("codec", ["null", "deflate"])
@pytest.mark.parametrize("count", [0, 1, 150, 2000])
def test_container_writer_writes_fastavros_bytes(codec: str, count: int) -> None:
    kind = RecordKind.ASSIGNMENT
    samples = [VARIANTS[v][kind] for v in VARIANTS]
    records = [samples[i % len(samples)] for i in range(count)]
    reference = io.BytesIO()
    writer = Writer(reference, load_schema(kind), codec=codec, sync_marker=sync_marker(kind))
    for obj in records:
        writer.write(to_record(obj))
    writer.flush()
    ours = io.BytesIO()
    container = ContainerWriter(ours, kind, codec, sync_marker(kind))
    for obj in records:
        container.write(obj)
    container.flush()
    assert ours.getvalue() == reference.getvalue()
    if count == 2000:
        assert len(reference.getvalue()) > 2 * SYNC_INTERVAL or codec == "deflate"
