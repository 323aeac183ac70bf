"""Poison records on every input topic become dead letters, once each, with their
original bytes, and processing goes on (contract.md "Wire format on Kafka", DeadLetter).

The good history is loaded in two halves split at a recorded_at cutoff, with the poison
records produced between them stamped with the cutoff, so every partition stays in
recorded_at order and the outputs must still equal the file replay of the good data.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processor.codec.files import read_records
from processor.codec.kinds import RecordKind
from processor.codec.wire import FINGERPRINT_HEADER, WireCodec
from processor.config import WireFormat
from processor.kafka.load import timestamp_ms
from tests.integration.harness import (
    Deployment,
    RawRecord,
    assert_same_outputs,
    generate,
    lines,
    original_decisions,
    produce_raw,
    replay,
    segments,
)

pytestmark = pytest.mark.kafka



@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 300, seed=41)


@pytest.fixture(scope="module")
def replayed(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(history, tmp_path_factory.mktemp("replayed"))




def first_record(history: Path, kind: RecordKind, name: str) -> Any:
    for item in read_records(history / name, kind, datetime.now(UTC)):
        record = getattr(item, "record", None)
        if record is not None:
            return record
    raise AssertionError(f"no good record in {name}")


def poison_records(app: Deployment, history: Path, at_ms: int
                   ) -> list[tuple[RawRecord, str]]:
    """(record, expected error_type) for each input topic."""
    wire = WireCodec(WireFormat.FINGERPRINT)
    enrollment = dataclasses.replace(
        first_record(history, RecordKind.ENROLLMENT, "enrollments.jsonl"),
        event_id="evt-poison-key", member_id="mbr-poison-key")
    change = dataclasses.replace(
        first_record(history, RecordKind.PLAN_CHANGE, "plan-changes.jsonl"),
        event_id="evt-poison-change", member_id="mbr-poison-change")
    snapshot = dataclasses.replace(
        first_record(history, RecordKind.AGENT_STATUS, "agent-status.jsonl"),
        snapshot_id="snap-poison", agent_id="agt-poison")
    enrollment_value, enrollment_headers = wire.encode(enrollment)
    change_value, change_headers = wire.encode(change)
    snapshot_value, snapshot_headers = wire.encode(snapshot)
    unknown = [(FINGERPRINT_HEADER, bytes.fromhex("0123456789abcdef"))]
    enrollments, plan_changes = app.topic("enrollments"), app.topic("plan-changes")
    agent_status = app.topic("agent-status")
    return [
        # Random bytes and no fingerprint header.
        (RawRecord(enrollments, os.urandom(64), b"\xff\x00poison-bytes", None, at_ms),
         "UNKNOWN_SCHEMA"),
        # A good Enrollment whose key is not its member_id.
        (RawRecord(enrollments, enrollment_value, b"mbr-someone-else", enrollment_headers,
                   at_ms), "INVALID_RECORD"),
        # No value at all (a tombstone on an input topic).
        (RawRecord(enrollments, None, b"mbr-poison-tombstone", None, at_ms),
         "INVALID_RECORD"),
        # A good PlanChange value under a fingerprint no schema has.
        (RawRecord(plan_changes, change_value, b"mbr-poison-change", unknown, at_ms),
         "UNKNOWN_SCHEMA"),
        # The right header, a truncated Avro payload.
        (RawRecord(plan_changes, change_value[: len(change_value) // 2],
                   b"mbr-poison-change", change_headers, at_ms), "INVALID_RECORD"),
        # Agent status: a truncated snapshot, and one without a header.
        (RawRecord(agent_status, snapshot_value[:7], b"agt-poison", snapshot_headers,
                   at_ms), "INVALID_RECORD"),
        (RawRecord(agent_status, snapshot_value, b"agt-poison", None, at_ms),
         "UNKNOWN_SCHEMA"),
    ]


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def test_poison_on_every_input_is_one_dead_letter_and_processing_goes_on(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    app = Deployment(kafka_bootstrap)
    (first, second), (cutoff,) = segments(history, tmp_path / "halves", 2)
    app.cli("topics", "create")
    app.cli("load", "--input", first)
    poison = poison_records(app, history, timestamp_ms(cutoff))
    placed = produce_raw(kafka_bootstrap, [record for record, _ in poison])
    app.cli("load", "--input", second)

    done = app.cli("run", "--until-idle", "3", timeout=240)
    dumped = app.dump(tmp_path / "dump")

    letters = lines(dumped / "dead-letters.jsonl")
    by_place: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for letter in letters:
        by_place.setdefault((letter["source"], letter["partition"], letter["offset"]),
                            []).append(letter)
    for (record, error_type), (partition, offset) in zip(poison, placed, strict=True):
        found = by_place.get((record.topic, partition, offset), [])
        assert len(found) == 1, (f"{record.topic}[{partition}]@{offset} ({error_type}): "
                                 f"{len(found)} dead letters")
        letter = found[0]
        assert letter["error_type"] == error_type, letter
        assert letter["value"] == _b64(record.value), letter
        assert letter["key"] == _b64(record.key), letter
        assert letter["error_message"] and letter["failed_at"], letter
    # Nothing else: the good history is clean, as its replay shows.
    expected_others = lines(replayed / "dead-letters.jsonl")
    assert len(letters) == len(poison) + len(expected_others), letters

    good = sum(1 for _ in (history / "enrollments.jsonl").open()) + sum(
        1 for _ in (history / "plan-changes.jsonl").open())
    originals = original_decisions(dumped)
    assert len(originals) == good and set(originals.values()) == {1}
    assert not {"evt-poison-key", "evt-poison-change"} & set(originals)
    assert_same_outputs(dumped, replayed)
    assert f"{len(poison) + len(expected_others)} dead letters" in done.stderr.replace(",", "")
