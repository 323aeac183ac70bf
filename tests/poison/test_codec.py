"""Longs of more than 64 bits: fastavro's compiled reader keeps 64 of them and drops the
rest, so before the codec checked for them a corrupt plan year of 2**64 + 2026 read as
2026 and a timestamp of 2**63 ms as 1970-01-01: poison decided as a valid event. Found
by the poison suite's ``long-overflow`` recipe; each case here fails on the unfixed codec.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from processor.codec.avro_binary import OVERLONG_VARINT, decode, encode
from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.files import Decoded, read_records, write_records
from processor.codec.kinds import FileFormat, RecordKind
from processor.codec.wire import (
    MAX_ERROR_MESSAGE_CHARS,
    RECORD_OVERHEAD_BYTES,
    WireCodec,
    fit_dead_letter,
)
from processor.config import WireFormat
from processor.domain.model import ErrorType, PlanChange
from processor.generate.history import GeneratorConfig, generate
from tests.poison.corrupt import avro_encoding, zigzag

PC = RecordKind.PLAN_CHANGE
FAILED_AT = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def change() -> PlanChange:
    return generate(GeneratorConfig(members=10, agents=5, seed=3)).plan_changes[0]


def with_token(record: PlanChange, path: str, value: int) -> bytes:
    encoding = avro_encoding(PC, record)
    next(t for t in encoding.tokens if t.path == path).data = zigzag(value)
    return encoding.raw


WRAPPING = [
    pytest.param("to_plan.plan_year", 2**64 + 2026, "out of range for int", id="plan-year-wraps"),
    pytest.param("to_plan.plan_year", -(2**70) + 2025, "out of range for int", id="negative"),
    pytest.param("occurred_at", 2**63, "Avro payload", id="timestamp-wraps-to-1970"),
    pytest.param("recorded_at", 2**64 + 5, "Avro payload", id="timestamp-wraps-to-5ms"),
    pytest.param("effective_date", 2**64 + 20454, "Avro payload", id="date-wraps-to-2026"),
]


@pytest.mark.parametrize(("path", "value", "fragment"), WRAPPING)
def test_a_long_beyond_64_bits_is_invalid_not_wrapped(
        change: PlanChange, path: str, value: int, fragment: str) -> None:
    payload = with_token(change, path, value)
    assert OVERLONG_VARINT.search(payload)
    wire = WireCodec(WireFormat.FINGERPRINT)
    with pytest.raises(DecodeError) as caught:
        decode(PC, payload)
    assert caught.value.error_type is ErrorType.INVALID_RECORD
    assert fragment in caught.value.message
    with pytest.raises(DecodeError) as caught:
        wire.decode(PC, payload, wire.encode(change)[1])
    assert caught.value.error_type is ErrorType.INVALID_RECORD


def test_a_long_beyond_64_bits_in_a_container_is_a_dead_letter(
        change: PlanChange, tmp_path: Path) -> None:
    path = tmp_path / "plan-changes.avro"
    write_records(path, PC, [change], FileFormat.AVRO)
    good = encode(change)
    bad = with_token(change, "to_plan.plan_year", 2**64 + 2026)
    data = path.read_bytes()
    # One block of one record: swap the record's bytes and fix the block size varint.
    at = data.rindex(good)
    size = zigzag(len(good))
    assert data[at - len(size):at] == size
    path.write_bytes(data[:at - len(size)] + zigzag(len(bad)) + bad + data[at + len(good):])
    items = list(read_records(path, PC, FAILED_AT))
    assert not any(isinstance(i, Decoded) for i in items), items
    [letter] = items
    assert isinstance(letter, DeadLetter)
    assert letter.value == bad and letter.error_type == "INVALID_RECORD"
    assert "out of range for int" in letter.error_message


def test_long_runs_of_non_ascii_text_still_decode(change: PlanChange, tmp_path: Path) -> None:
    """Text with ten and more bytes >= 0x80 in a row looks like an overlong varint to the
    cheap check; the exact reader then reads it as the same record."""
    record = dataclasses.replace(change, member_id="mbr-日本語の会員番号", event_id="evt-ØØØØØØØØ",
                                 facilitating_agency_id="agy-\U0001f600\U0001f600\U0001f600")
    payload = encode(record)
    assert OVERLONG_VARINT.search(payload)
    assert decode(PC, payload) == record
    path = tmp_path / "plan-changes.avro"
    write_records(path, PC, [record, change], FileFormat.AVRO)
    assert [i.record for i in read_records(path, PC, FAILED_AT)
            if isinstance(i, Decoded)] == [record, change]


# --- dead letters that must fit their topic -----------------------------------------------


def letter_of(value: bytes, message: str = "bad") -> DeadLetter:
    return DeadLetter("aor.enrollments.v1", 2, 41, b"mbr-0000001", value, "UNKNOWN_SCHEMA",
                      message, FAILED_AT)


def test_a_small_dead_letter_is_left_alone() -> None:
    letter = letter_of(b"\x00" * 1000)
    assert fit_dead_letter(letter, 1_000_000) is letter


def test_a_huge_error_message_is_cut_and_the_value_kept() -> None:
    """A message quoting a 600 KB bad value would double the dead letter's size."""
    value = b"Z" * 600_000
    fitted = fit_dead_letter(letter_of(value, "member_state " + "Z" * 600_000), 1_000_000)
    assert fitted.value == value
    assert len(fitted.error_message) < MAX_ERROR_MESSAGE_CHARS + 100
    assert fitted.error_message.startswith("member_state ZZZ")
    assert "(600,013 characters)" in fitted.error_message


def test_a_value_at_the_size_limit_is_cut_to_fit_and_says_where_the_original_is() -> None:
    """A poison record just under the input topic's limit cannot be carried whole with
    the dead letter's other fields: without the cut, its transaction failed on every
    retry (MSG_SIZE_TOO_LARGE) and the partition never moved on."""
    value = bytes(range(256)) * 4_000  # 1,024,000 bytes
    fitted = fit_dead_letter(letter_of(value), 1_000_000)
    assert fitted.value is not None and value.startswith(fitted.value)
    size = len(encode(fitted)) + len(fitted.key or b"") + RECORD_OVERHEAD_BYTES
    assert 990_000 < size <= 1_000_000
    assert ("value cut to its first" in fitted.error_message
            and "of 1,024,000 bytes" in fitted.error_message
            and "aor.enrollments.v1 partition 2 offset 41" in fitted.error_message)
