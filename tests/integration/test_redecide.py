"""`redecide` against the broker: a deployment that decided the bundled sample under rules
revision 1 (its outputs on the live topics, its member states, format 2, in the changelog:
tests/fixtures/rules-1) upgrades to the rules of this release."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from processor.codec.files import Decoded, read_records
from processor.codec.kinds import RecordKind
from processor.codec.wire import key_of
from processor.domain.commissions import comparison_key
from processor.domain.engine import Engine
from processor.domain.model import AgentStatusSnapshot
from processor.domain.settings import PolicySettings
from processor.files.replay import merge_key
from processor.kafka.registry import wire_codec
from processor.state.codec import STATE_VERSION, decode_state
from processor.whatif.diff import compare
from processor.whatif.load import load_outputs
from tests.integration.harness import (
    Deployment,
    RawRecord,
    count_records,
    lines,
    produce_raw,
    read_to_end,
    replay,
)

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "sample"
RULES_1 = ROOT / "tests" / "fixtures" / "rules-1"
SINCE = "2020-01-01T00:00:00Z"
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def check_sample_is_the_fixtures_input() -> None:
    for line in (RULES_1 / "inputs.sha256").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest() == digest, (
            f"samples/sample/{name} is not the input tests/fixtures/rules-1 was decided from")


def publish_rules_1(app: Deployment) -> None:
    """The live topics as the rules-1 release left them after deciding the sample."""
    wire = wire_codec(app.settings())
    records: list[RawRecord] = []
    for kind, topic in ((RecordKind.ASSIGNMENT, "assignments"),
                        (RecordKind.ADJUSTMENT, "commission-adjustments")):
        for item in read_records(RULES_1 / "outputs" / f"{kind.value}.avro", kind, NOW):
            assert isinstance(item, Decoded)
            value, headers = wire.encode(item.record)
            records.append(RawRecord(app.topic(topic), value, key_of(item.record),
                                     list(headers)))
    with gzip.open(RULES_1 / "member-states.jsonl.gz", "rb") as states:
        for line in states:
            member_id, body = orjson.loads(line)
            # Keyed like the inputs, so each state lands in its member's partition.
            records.append(RawRecord(app.topic("member-state.changelog"), orjson.dumps(body),
                                     member_id.encode()))
    produce_raw(app.bootstrap, records)


def standing_states(app: Deployment) -> dict[str, object]:
    """Each event's latest revision in the changelog: outcome, reason, AOR, review and the
    adjustments it stands by (compared without ids and policy versions)."""
    latest: dict[bytes, bytes] = {}
    for msg in read_to_end(app.bootstrap, [app.topic("member-state.changelog")]):
        key, value = msg.key(), msg.value()
        if key is not None and value is not None and not key.startswith(b"\x00"):
            latest[key] = value
    out: dict[str, object] = {}
    for value in latest.values():
        assert value.startswith(b"[%d," % STATE_VERSION)
        for e in decode_state(value).history:
            out[e.event.event_id] = (e.outcome, e.reason, e.agent_of_record_id,
                                     e.requires_review,
                                     sorted(map(str, map(comparison_key, e.adjustments))))
    return out


def fresh_states() -> dict[str, object]:
    engine = Engine(PolicySettings())
    records = [item.record for kind in (RecordKind.AGENT_STATUS, RecordKind.ENROLLMENT,
                                        RecordKind.PLAN_CHANGE)
               for item in read_records(SAMPLE / f"{kind.value}.jsonl", kind, NOW)
               if isinstance(item, Decoded)]
    for record in sorted(records, key=merge_key):  # type: ignore[arg-type]
        if isinstance(record, AgentStatusSnapshot):
            engine.on_snapshot(record)
        else:
            engine.on_event(record)  # type: ignore[arg-type]
    return {e.event.event_id: (e.outcome, e.reason, e.agent_of_record_id, e.requires_review,
                               sorted(map(str, map(comparison_key, e.adjustments))))
            for state in engine.members.values() for e in state.history}


def test_redecide_brings_a_rules_1_deployment_to_a_fresh_replay_exactly_once(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    check_sample_is_the_fixtures_input()
    app = Deployment(kafka_bootstrap)
    app.setup(SAMPLE)
    publish_rules_1(app)
    outputs = [app.topic("assignments"), app.topic("commission-adjustments")]
    published = count_records(kafka_bootstrap, outputs)
    fresh = replay(SAMPLE, tmp_path / "fresh")

    # 1. Side by side first: superseding decisions on prefixed topics, nothing live moves.
    checked = app.cli("redecide", "--from", SINCE, "--output-prefix", "check.", "--quiet")
    assert checked.returncode == 0
    assert count_records(kafka_bootstrap, outputs) == published
    check = count_records(kafka_bootstrap, [f"check.{t}" for t in outputs])
    assert check[f"check.{outputs[0]}"] > 50, check
    files = tmp_path / "check"
    app.cli("redecide", "--from", SINCE, "--output", files, "--quiet")
    superseding = lines(files / "assignments.jsonl")
    assert len(superseding) == check[f"check.{outputs[0]}"]
    assert all(a["revision"] >= 1 and a["supersedes_decision_id"] for a in superseding)
    assert {a["policy_version"] for a in superseding} == {PolicySettings().policy_version}

    # 2. Live: the same decisions on the live topics, the states upgraded to format 3.
    live = app.cli("redecide", "--from", SINCE, "--live")
    assert "member states rewritten" in live.stdout
    after = count_records(kafka_bootstrap, outputs)
    assert after[outputs[0]] == published[outputs[0]] + len(superseding)

    # Per member, the same final state as a fresh replay under the new rules: the what-if
    # comparison of the live outputs with it finds nothing changed...
    dumped = app.dump(tmp_path / "live")
    diff = compare(load_outputs(dumped, NOW), load_outputs(fresh, NOW))
    assert (diff.members_changed, diff.events_changed, diff.aor_changes) == (0, 0, 0), [
        (m.member_id, m.changed) for m in diff.members[:5]]
    assert diff.baseline_total == diff.scenario_total
    # ...and the changelog stands event by event where the fresh replay's engine does.
    assert standing_states(app) == fresh_states()

    # 3. Exactly once: again, nothing; and `run` takes over without deciding anything twice.
    again = app.cli("redecide", "--from", SINCE, "--live")
    assert count_records(kafka_bootstrap, outputs) == after
    for row in ("superseding decisions", "member states rewritten"):
        assert re.search(rf"{row}\s+│\s+0 │", again.stdout), again.stdout
    app.cli("run", "--until-idle", "3", "--instance-id", "upgraded", timeout=240)
    assert count_records(kafka_bootstrap, outputs) == after
