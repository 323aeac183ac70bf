"""Golden bytes: the encodings of fixed records must not change by accident.

A failure here means the wire format changed. If that is intended, run
`python -m tests.contract.regenerate_golden` and review the diff of golden/.
"""

from __future__ import annotations

import pytest

from processor.codec.avro_binary import decode
from processor.codec.jsonl import decode_line
from processor.codec.kinds import RecordKind
from tests.contract.contract_samples import GOLDEN_DIR, VARIANTS, golden_name
from tests.contract.regenerate_golden import expected_files

EXPECTED = expected_files()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_encoding_matches_golden_file(name: str) -> None:
    stored = (GOLDEN_DIR / name).read_bytes()
    assert EXPECTED[name] == stored, f"{name} differs from the golden file"


def test_no_stray_golden_files() -> None:
    assert sorted(p.name for p in GOLDEN_DIR.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kind", list(RecordKind))
def test_golden_avro_decodes_to_sample(kind: RecordKind, variant: str) -> None:
    text = (GOLDEN_DIR / f"{golden_name(kind, variant)}.avro.hex").read_text()
    assert decode(kind, bytes.fromhex(text.replace("\n", ""))) == VARIANTS[variant][kind]


@pytest.mark.parametrize("kind", list(RecordKind))
def test_golden_jsonl_decodes_to_samples(kind: RecordKind) -> None:
    lines = (GOLDEN_DIR / f"{kind.record_name}.jsonl").read_bytes().splitlines()
    decoded = [decode_line(kind, line) for line in lines]
    assert decoded == [VARIANTS[v][kind] for v in VARIANTS]


def test_jsonl_format_details() -> None:
    """Spot checks of the JSON Lines conventions of contract.md, on the golden text."""
    adjustment = (GOLDEN_DIR / "CommissionAdjustment.jsonl").read_text("utf-8")
    assert '"amount":"-318.08"' in adjustment
    assert '"annual_amount":"347.00"' in adjustment
    assert '"basis":null' in adjustment
    enrollment = (GOLDEN_DIR / "Enrollment.jsonl").read_text("utf-8")
    assert '"occurred_at":"2026-01-15T10:00:00.123Z"' in enrollment
    assert '"recorded_at":"2026-01-15T10:05:00.000Z"' in enrollment
    assert '"effective_date":"2026-02-01"' in enrollment
    assert enrollment.startswith('{"event_id":"enr-0001","occurred_at":')
    dead = (GOLDEN_DIR / "DeadLetter.jsonl").read_text("utf-8")
    assert '"key":"TS0xMDA="' in dead  # base64 of b"M-100"
    assert '"failed_at":"2026-01-16T00:00:00.001Z"' in dead
