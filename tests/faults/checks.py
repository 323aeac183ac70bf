"""The fault run against the file replay (the oracle).

The run paused the agent-status feed, so events were decided before snapshots that the
replay had in hand, and corrected later: the record sequence may differ from the
replay's, the final state may not (contract.md "Time"). Compared:

- every input event has exactly one original decision (revision 0), and no other event
  has one;
- no decision id and no adjustment id was emitted twice, and each event's revisions run
  0, 1, 2, ... each superseding the one before;
- the final AOR per member and the net adjustment amount per member equal the replay's;
- dead letters: one per (topic, partition, offset), carrying the original bytes of the
  record there, and the same (error type, event or snapshot id) as the replay's dead
  letters of lines that reached Kafka (JSON that does not parse never did).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from processor.codec.avro_binary import decode_datum
from processor.codec.kinds import RecordKind
from tests.integration.harness import (
    Deployment,
    end_offsets,
    final_aor,
    lines,
    net_amounts,
    read_to_end,
)

Coordinate = tuple[str, int, int]  # topic, partition, offset
INPUT_KINDS = (RecordKind.ENROLLMENT, RecordKind.PLAN_CHANGE, RecordKind.AGENT_STATUS)


@dataclass
class Comparison:
    events: int = 0  # input events the replay decided
    lost_events: list[str] = field(default_factory=list)
    doubled_events: list[str] = field(default_factory=list)
    invented_events: list[str] = field(default_factory=list)
    doubled_decision_ids: int = 0
    doubled_adjustment_ids: int = 0
    broken_revisions: list[str] = field(default_factory=list)
    corrections: int = 0
    aor_differs: list[str] = field(default_factory=list)
    net_differs: list[str] = field(default_factory=list)
    members: int = 0
    dead_letters: int = 0
    doubled_letters: int = 0
    lost_letters: list[tuple[str, str]] = field(default_factory=list)
    extra_letters: list[tuple[str, str]] = field(default_factory=list)
    wrong_bytes: list[Coordinate] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return (len(self.doubled_events) + len(self.invented_events) + self.doubled_letters
                + self.doubled_decision_ids + self.doubled_adjustment_ids
                + len(self.extra_letters))

    @property
    def losses(self) -> int:
        return len(self.lost_events) + len(self.lost_letters)

    @property
    def mismatches(self) -> int:
        return len(self.aor_differs) + len(self.net_differs) + len(self.broken_revisions) \
            + len(self.wrong_bytes)

    def problems(self) -> list[str]:
        found = []
        for name in ("lost_events", "doubled_events", "invented_events", "broken_revisions",
                     "aor_differs", "net_differs", "lost_letters", "extra_letters",
                     "wrong_bytes"):
            items: list[Any] = getattr(self, name)
            if items:
                found.append(f"{name}: {len(items)}, e.g. {items[:3]}")
        for name in ("doubled_decision_ids", "doubled_adjustment_ids", "doubled_letters"):
            if getattr(self, name):
                found.append(f"{name}: {getattr(self, name)}")
        return found


def compare(dumped: Path, replayed: Path, app: Deployment) -> Comparison:
    result = Comparison()
    got = lines(dumped / "assignments.jsonl")
    want = lines(replayed / "assignments.jsonl")
    expected = {a["source_event_id"] for a in want if a["revision"] == 0}
    originals = Counter(a["source_event_id"] for a in got if a["revision"] == 0)
    result.events = len(expected)
    result.lost_events = sorted(expected - set(originals))
    result.invented_events = sorted(set(originals) - expected)
    result.doubled_events = sorted(e for e, n in originals.items() if n > 1)
    result.corrections = sum(1 for a in got if a["revision"] > 0)
    result.doubled_decision_ids = _doubled(a["decision_id"] for a in got)
    adjustments = lines(dumped / "commission-adjustments.jsonl")
    result.doubled_adjustment_ids = _doubled(a["adjustment_id"] for a in adjustments)
    result.broken_revisions = _broken_revisions(got)

    want_aor, got_aor = final_aor(replayed), final_aor(dumped)
    result.members = len(want_aor)
    result.aor_differs = sorted(m for m in set(want_aor) | set(got_aor)
                                if want_aor.get(m, "-") != got_aor.get(m, "-"))
    want_net, got_net = net_amounts(replayed), net_amounts(dumped)
    result.net_differs = sorted(m for m in set(want_net) | set(got_net)
                                if Decimal(want_net.get(m, "0")) != Decimal(got_net.get(m, "0")))
    _compare_letters(result, dumped, replayed, app)
    return result


def _doubled(ids: Any) -> int:
    return sum(n - 1 for n in Counter(ids).values() if n > 1)


def _broken_revisions(assignments: list[dict[str, Any]]) -> list[str]:
    """Events whose revisions are not 0..n, each superseding the one before."""
    by_event: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for a in assignments:
        by_event[a["source_event_id"]][a["revision"]] = a
    broken = []
    for event, revisions in by_event.items():
        if sorted(revisions) != list(range(len(revisions))):
            broken.append(event)
            continue
        for r in range(1, len(revisions)):
            if revisions[r]["supersedes_decision_id"] != revisions[r - 1]["decision_id"]:
                broken.append(event)
                break
    return sorted(broken)


def _identity(kind: RecordKind, payload: bytes) -> str:
    """The event or snapshot id of an input record's bytes (Avro on Kafka)."""
    datum = decode_datum(kind, payload)
    assert isinstance(datum, dict)
    return str(datum.get("event_id") or datum.get("snapshot_id"))


def _compare_letters(result: Comparison, dumped: Path, replayed: Path,
                     app: Deployment) -> None:
    kinds = {app.topic(kind.value): kind for kind in INPUT_KINDS}
    letters = lines(dumped / "dead-letters.jsonl")
    result.dead_letters = len(letters)
    at = Counter((d["source"], d["partition"], d["offset"]) for d in letters)
    result.doubled_letters = sum(n - 1 for n in at.values() if n > 1)
    originals = read_values(app.bootstrap, set(at))
    got: Counter[tuple[str, str]] = Counter()
    for d in letters:
        where = (d["source"], d["partition"], d["offset"])
        value = base64.b64decode(d["value"])
        if originals.get(where) != value:
            result.wrong_bytes.append(where)
        got[(d["error_type"], _identity(kinds[d["source"]], value))] += 1
    # JSON that does not parse or fit the schema never reached the topics (load skips
    # it); every other dead letter of the replay must be on Kafka too.
    want: Counter[tuple[str, str]] = Counter()
    for d in lines(replayed / "dead-letters.jsonl"):
        if d["error_type"] == "INVALID_RECORD":
            continue
        record = json.loads(base64.b64decode(d["value"]))
        want[(d["error_type"], str(record.get("event_id") or record.get("snapshot_id")))] += 1
    result.lost_letters = sorted((want - got).elements())
    result.extra_letters = sorted((got - want).elements())


def read_values(bootstrap: str, wanted: set[Coordinate], timeout: float = 120
                ) -> dict[Coordinate, bytes]:
    """The value bytes of the records at these coordinates (read_committed)."""
    topics = sorted({topic for topic, _, _ in wanted})
    if not topics:
        return {}
    found: dict[Coordinate, bytes] = {}
    for message in read_to_end(bootstrap, topics, timeout=timeout, prefix="faults"):
        coordinate = (message.topic() or "", message.partition() or 0, message.offset() or 0)
        if coordinate in wanted:
            found[coordinate] = message.value() or b""
    return found


def open_since(bootstrap: str, partitions: list[tuple[str, int]], timeout: float = 30
               ) -> list[str]:
    """For partitions whose last stable offset is behind the high watermark: the offsets
    of the records not yet committed or aborted, and when the first one was written."""
    stable = end_offsets(bootstrap, sorted({t for t, _ in partitions}), "read_committed")
    high = end_offsets(bootstrap, sorted({t for t, _ in partitions}))
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": f"faults-{uuid.uuid4().hex}",
                       "enable.auto.commit": False, "isolation.level": "read_uncommitted"})
    found = []
    try:
        for topic, p in partitions:
            client.assign([TopicPartition(topic, p, stable[(topic, p)])])
            message = client.consume(1, timeout)
            written = "?"
            if message and message[0].error() is None:
                _, ms = message[0].timestamp()
                written = datetime.fromtimestamp(ms / 1000, UTC).isoformat()
            found.append(f"{topic}[{p}] offsets {stable[(topic, p)]}..{high[(topic, p)]} "
                         f"open since {written}")
    finally:
        client.close()
    return found
