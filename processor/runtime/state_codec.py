"""Member state <-> changelog bytes.

JSON, versioned, with events and adjustments in their contract JSON form, so a
changelog stays readable and survives additive schema changes.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import orjson

from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind
from processor.domain.member import Entry, MemberState
from processor.domain.model import (
    CommissionAdjustment,
    Enrollment,
    MemberEvent,
    Outcome,
    PlanRef,
    PlanType,
    Reason,
)
from processor.domain.policy import Position

VERSION = 1
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _plan(plan: PlanRef | None) -> list[Any] | None:
    return None if plan is None else [plan.plan_id, plan.plan_type.value, plan.plan_year]


def _plan_of(value: list[Any] | None) -> PlanRef | None:
    return None if value is None else PlanRef(value[0], PlanType(value[1]), value[2])


def _adjustment(adj: CommissionAdjustment) -> dict[str, Any]:
    # to_jsonable: what orjson writes as to_json's JSON (see codec.jsonl), built faster.
    to_jsonable = record_codec(RecordKind.ADJUSTMENT).to_jsonable
    assert to_jsonable is not None
    result: dict[str, Any] = to_jsonable(adj)
    return result


def _adjustment_of(value: dict[str, Any]) -> CommissionAdjustment:
    result = record_codec(RecordKind.ADJUSTMENT).from_json(value)
    assert isinstance(result, CommissionAdjustment)
    return result


def _event(event: MemberEvent) -> list[Any]:
    kind = RecordKind.ENROLLMENT if isinstance(event, Enrollment) else RecordKind.PLAN_CHANGE
    to_jsonable = record_codec(kind).to_jsonable
    assert to_jsonable is not None
    return [kind.value, to_jsonable(event)]


def _event_of(value: list[Any]) -> MemberEvent:
    result = record_codec(RecordKind(value[0])).from_json(value[1])
    assert isinstance(result, MemberEvent)
    return result


def encode_state(state: MemberState) -> bytes:
    entries = []
    for e in state.history:
        p = e.position
        entries.append({
            "event": _event(e.event),
            "revision": e.revision,
            "decision_id": e.decision_id,
            "outcome": e.outcome.value,
            "reason": e.reason.value,
            "aor": e.agent_of_record_id,
            "review": e.requires_review,
            "adjustments": [_adjustment(a) for a in e.adjustments],
            "looked_at": [list(pair) for pair in e.looked_at],
            "position": {
                "aor": p.agent_of_record_id,
                "plan": _plan(p.plan),
                "effective_date": p.effective_date.isoformat(),
                "start": None if p.start is None else _adjustment(p.start),
                "prior_plan": _plan(p.prior_plan),
            },
        })
    in_history = {e.event.event_id for e in state.history}
    # Seen ids whose event is no longer in the history (none today) are kept whole.
    extra = [_event(ev) for eid, ev in state.seen.items() if eid not in in_history]
    body = {"v": VERSION, "member_id": state.member_id, "history": entries, "seen": extra}
    # The bytes _ENCODER would write (no floats anywhere; tests/contract/test_fast_encoders),
    # about ten times faster: every changed member is encoded in every transaction.
    return orjson.dumps(body)


def decode_state(data: bytes) -> MemberState:
    body = orjson.loads(data)  # raises orjson.JSONDecodeError, a json.JSONDecodeError
    if body.get("v") != VERSION:
        raise ValueError(f"unknown member-state version {body.get('v')!r}")
    history: list[Entry] = []
    seen: dict[str, MemberEvent] = {}
    for raw in body["history"]:
        event = _event_of(raw["event"])
        p = raw["position"]
        plan = _plan_of(p["plan"])
        assert plan is not None
        position = Position(
            agent_of_record_id=p["aor"], plan=plan,
            effective_date=date.fromisoformat(p["effective_date"]),
            start=None if p["start"] is None else _adjustment_of(p["start"]),
            prior_plan=_plan_of(p["prior_plan"]))
        history.append(Entry(
            event=event, revision=raw["revision"], decision_id=raw["decision_id"],
            outcome=Outcome(raw["outcome"]), reason=Reason(raw["reason"]),
            agent_of_record_id=raw["aor"], requires_review=raw["review"],
            adjustments=tuple(_adjustment_of(a) for a in raw["adjustments"]),
            looked_at=tuple((a, s) for a, s in raw["looked_at"]), position=position))
        seen[event.event_id] = event
    for raw in body["seen"]:
        event = _event_of(raw)
        seen[event.event_id] = event
    return MemberState(body["member_id"], tuple(history), seen)


def encode_meta(applied: dict[int, int]) -> bytes:
    """A partition's progress through agent-status: next offset per partition applied."""
    return _ENCODER.encode({"v": VERSION, "applied": {str(k): v for k, v in
                                                      sorted(applied.items())}}).encode()


def decode_meta(data: bytes) -> dict[int, int]:
    body = orjson.loads(data)  # raises orjson.JSONDecodeError, a json.JSONDecodeError
    return {int(k): int(v) for k, v in body["applied"].items()}
