"""An explanation as one JSON document for tooling, and back.

Records (assignments, adjustments, snapshots, events, dead letters) use the contract's
JSON Lines field names and encodings (timestamps RFC 3339 UTC with milliseconds, money
as decimal strings); around them sit the derived views: the summary, each decision's
failed checks, the snapshots' use, the corrections and the net per agent.
`explanation_from_json` decodes the records and rebuilds the explanation from them, so
a document round-trips to an equal Explanation.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from processor.codec.dead_letter import DeadLetter
from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind
from processor.domain.model import (
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    Enrollment,
    EventType,
    MemberEvent,
    PlanChange,
    RuleCheck,
)
from processor.explain.build import Explanation, Records, explain

FORMAT = "aor-explain/1"


def _record(obj: object) -> dict[str, Any]:
    encoded: dict[str, Any] = record_codec(RecordKind.of(obj)).to_json(obj)
    return encoded


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _event_kind(event_type: EventType) -> RecordKind:
    return RecordKind.ENROLLMENT if event_type is EventType.ENROLLMENT else RecordKind.PLAN_CHANGE


def to_document(expl: Explanation) -> dict[str, Any]:
    summary = expl.summary
    return {
        "format": FORMAT,
        "member_id": expl.member_id,
        "member_state": expl.member_state,
        "source": expl.source,
        "late_after_seconds": expl.late_after.total_seconds(),
        "summary": {
            "events": summary.events,
            "decisions": summary.decisions,
            "corrections": summary.corrections,
            "current_agent_of_record_id": summary.current_agent_of_record_id,
            "current_outcome": summary.current_outcome,
            "current_reason": summary.current_reason,
            "open_reviews": list(summary.open_reviews),
            "released_by": list(summary.released_by),
            "net": _money(summary.net),
            "policy_versions": list(summary.policy_versions),
            "dead_letters": len(expl.dead_letters),
        },
        "decisions": [
            {
                "index": step.index,
                "label": step.label,
                "standing": step.standing,
                "assignment": _record(step.assignment),
                "adjustments": [_record(a) for a in step.adjustments],
                "failed_eligibility_checks": [_check(c) for c in step.failed_eligibility],
                "snapshot_ids": list(step.snapshot_ids),
            }
            for step in expl.steps
        ],
        "snapshots_available": expl.snapshots_available,
        "snapshots": [
            {
                "snapshot_id": use.snapshot_id,
                "agent_id": use.agent_id,
                "late": use.late,
                "lag_seconds": None if use.lag is None else use.lag.total_seconds(),
                "relied_on_by": list(use.relied_on_by),
                "recorded_after_event_of": list(use.recorded_after_event_of),
                "snapshot": None if use.snapshot is None else _record(use.snapshot),
            }
            for use in expl.snapshots
        ],
        "events": None if expl.events is None else [
            {"event_type": e.event_type.value, "event": _record(e)} for e in expl.events],
        "corrections": [
            {
                "label": c.step.label,
                "decision_id": c.step.assignment.decision_id,
                "supersedes_decision_id": c.step.assignment.supersedes_decision_id,
                "supersedes_label": None if c.previous is None else c.previous.label,
                "changes": [{"field": ch.field, "before": ch.before, "after": ch.after}
                            for ch in c.changes],
                "reversals": [_record(a) for a in c.reversals],
                "new_adjustments": [_record(a) for a in c.new_adjustments],
                "causes": list(c.causes),
            }
            for c in expl.corrections
        ],
        "adjustments": [_record(a) for a in expl.adjustments],
        "net_by_agent": [
            {"agent_id": t.agent_id, "starts": _money(t.starts),
             "recoveries": _money(t.recoveries), "reversals": _money(t.reversals),
             "stops": t.stops, "net": _money(t.net)}
            for t in expl.totals
        ],
        "dead_letters": [_record(d) for d in expl.dead_letters],
    }


def _check(check: RuleCheck) -> dict[str, Any]:
    """A RuleCheck as the assignment's rule_trace entries are written."""
    return {"rule": check.rule, "agent_id": check.agent_id, "passed": check.passed,
            "snapshot_id": check.snapshot_id, "detail": check.detail}


def render_json(expl: Explanation) -> str:
    """The document, indented, with a trailing newline."""
    return json.dumps(to_document(expl), indent=2, ensure_ascii=False) + "\n"


def _decode(kind: RecordKind, value: Any) -> Any:
    return record_codec(kind).from_json(value)


def records_of(document: dict[str, Any]) -> Records:
    """The records a document carries (what `explain` needs to rebuild it)."""
    assignments: list[AorAssignment] = [
        _decode(RecordKind.ASSIGNMENT, d["assignment"]) for d in document["decisions"]]
    adjustments: list[CommissionAdjustment] = [
        _decode(RecordKind.ADJUSTMENT, a) for a in document["adjustments"]]
    snapshots: tuple[AgentStatusSnapshot, ...] | None = None
    if document["snapshots_available"]:
        snapshots = tuple(_decode(RecordKind.AGENT_STATUS, s["snapshot"])
                          for s in document["snapshots"] if s["snapshot"] is not None)
    events: tuple[MemberEvent, ...] | None = None
    if document["events"] is not None:
        decoded: list[Enrollment | PlanChange] = [
            _decode(_event_kind(EventType(e["event_type"])), e["event"])
            for e in document["events"]]
        events = tuple(decoded)
    letters: list[DeadLetter] = [
        _decode(RecordKind.DEAD_LETTER, d) for d in document["dead_letters"]]
    return Records(tuple(assignments), tuple(adjustments), snapshots, events, tuple(letters))


def explanation_from_json(text: str) -> Explanation:
    """Rebuild the explanation a `render_json` document describes."""
    document: dict[str, Any] = json.loads(text)
    if document.get("format") != FORMAT:
        raise ValueError(f"not an {FORMAT} document")
    return explain(document["member_id"], records_of(document), source=document["source"],
                   late_after=timedelta(seconds=document["late_after_seconds"]))


__all__ = ["FORMAT", "explanation_from_json", "records_of", "render_json", "to_document"]
