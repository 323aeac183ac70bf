"""Member state <-> changelog bytes.

Format 3 (written since rules revision 2): one JSON array per member, ``[3, member_id,
history, extra seen events]``, every record's fields by position in the order of the
domain dataclass. Values the record already holds are written once: the member_id of its
events and adjustments, an adjustment's decision_id (its entry's), a position's plan and
effective date (its event's) and a position's START (an index into its entry's
adjustments); null stands for "the same" where the field cannot be null. Timestamps and
dates are orjson's ISO 8601 (``2025-11-19T18:38:46.971000Z``, ``2026-01-01``), read back
by fromisoformat; money is the Decimal's own string, so it comes back exactly.

Format 2 is format 3 without a position's last field, the member's initial enrollment
year; format 1 (``{"v": 1, ...}``) held events and adjustments in their contract JSON
form, about three times the bytes. Both are still read, their positions' initial
enrollment year as INITIAL_YEAR_NOT_RECORDED ("none known", and the trace says why): the
rule did not exist when they were written. ``encode_state_v1`` and ``encode_state_v2``
still write them, for the tests, the bench and a rollback. An older release cannot read a
newer format, so a rolling upgrade must not let an older instance restore a partition
written by a newer one (RUNBOOK.md).

Decoding trusts its input. The changelog is written only by this processor (encode_state,
from states built out of validated inputs), so a restore builds the domain objects
directly from the stored values: no contract validation (regexes, range checks, Enum
calls), enum members by dict lookup, plans shared. Validating every event and
adjustment again made a restore cost about 100 µs of CPU per member. A record without the
expected shape raises ValueError; decode_state(encode_state(s)) == s exactly (tests and
bench.restore check it).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind
from processor.domain.member import Entry, MemberState
from processor.domain.model import (
    AdjustmentKind,
    Basis,
    Channel,
    CommissionAdjustment,
    Enrollment,
    MemberEvent,
    Outcome,
    PlanChange,
    PlanRef,
    PlanType,
    Reason,
)
from processor.domain.policy import INITIAL_YEAR_NOT_RECORDED, Position

STATE_VERSION = 3
_V2 = 2
_V1 = 1
# Dataclasses, Decimals and anything else not converted below fail loudly instead of being
# written the way orjson writes them by default.
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_PASSTHROUGH_DATACLASS
_ENROLLMENT, _PLAN_CHANGE = 0, 1

# Symbol -> member: a dict lookup, several times faster than calling the enum class.
_PLAN_TYPES: dict[str, PlanType] = {m.value: m for m in PlanType}
_CHANNELS: dict[str, Channel] = {m.value: m for m in Channel}
_OUTCOMES: dict[str, Outcome] = {m.value: m for m in Outcome}
_REASONS: dict[str, Reason] = {m.value: m for m in Reason}
_KINDS: dict[str, AdjustmentKind] = {m.value: m for m in AdjustmentKind}
_BASES: dict[str | None, Basis | None] = {None: None, **{m.value: m for m in Basis}}

# Plans repeat across members: decoded ones are shared (PlanRef is frozen), which saves
# both the construction and the memory of a restored partition.
_PLANS: dict[tuple[str, str, int], PlanRef] = {}
_PLAN_CACHE_LIMIT = 100_000

_fromisoformat = datetime.fromisoformat
_date_fromisoformat = date.fromisoformat


# --- format 3: encode ---------------------------------------------------------------------


def _plan(p: PlanRef) -> list[Any]:
    return [p.plan_id, p.plan_type, p.plan_year]


def _adjustment(a: CommissionAdjustment, member_id: str, decision_id: str) -> list[Any]:
    plan, annual_amount, amount = a.plan, a.annual_amount, a.amount
    return [
        a.adjustment_id,
        None if a.decision_id == decision_id else a.decision_id,
        None if a.member_id == member_id else a.member_id,
        a.agent_id, a.kind, a.basis, [plan.plan_id, plan.plan_type, plan.plan_year],
        a.effective_date, a.months,
        # str() keeps the Decimal's exponent: Decimal(str(d)) is d exactly, repr included.
        None if annual_amount is None else str(annual_amount),
        None if amount is None else str(amount),
        a.schedule_region, a.reverses_adjustment_id, a.policy_version,
    ]


def _event(e: MemberEvent, member_id: str) -> list[Any]:
    own = None if e.member_id == member_id else e.member_id
    if type(e) is Enrollment:
        return [_ENROLLMENT, e.event_id, e.occurred_at, e.recorded_at, own, e.member_state,
                _plan(e.plan), e.effective_date, e.writing_agent_id]
    assert type(e) is PlanChange
    return [_PLAN_CHANGE, e.event_id, e.occurred_at, e.recorded_at, own, e.member_state,
            None if e.from_plan is None else _plan(e.from_plan), _plan(e.to_plan),
            e.effective_date, e.channel, e.facilitating_agent_id, e.facilitating_agency_id]


def _entry(e: Entry, member_id: str) -> list[Any]:
    event, decision_id, adjustments, p = e.event, e.decision_id, e.adjustments, e.position
    start: int | list[Any] | None = None
    standing = p.start
    if standing is not None:
        # The START a position stands by is one of its entry's adjustments (the same
        # object), written as its index; anything else is written whole.
        for i, a in enumerate(adjustments):
            if a is standing:
                start = i
                break
        else:
            start = _adjustment(standing, member_id, decision_id)
    plan = event.new_plan
    position = [
        p.agent_of_record_id,
        None if p.plan is plan or p.plan == plan else _plan(p.plan),
        None if p.effective_date == event.effective_date else p.effective_date,
        start,
        None if p.prior_plan is None else _plan(p.prior_plan),
        p.initial_year,
    ]
    return [_event(event, member_id), e.revision, decision_id, e.outcome, e.reason,
            e.agent_of_record_id, e.requires_review,
            [_adjustment(a, member_id, decision_id) for a in adjustments],
            e.looked_at, position]


def encode_state(state: MemberState) -> bytes:
    """Format 3. Runs for every changed member in every transaction."""
    member_id = state.member_id
    history = state.history
    in_history = {e.event.event_id: e.event for e in history}
    # Seen events that are not a history entry's (none today) are kept whole.
    extra = [_event(event, member_id) for event_id, event in state.seen.items()
             if in_history.get(event_id) is not event]
    return orjson.dumps([STATE_VERSION, member_id, [_entry(e, member_id) for e in history],
                         extra], option=_OPTIONS)


def encode_state_v2(state: MemberState) -> bytes:
    """Format 2, as written before rules revision 2 (tests, a rollback): format 3 without
    the positions' initial enrollment year."""
    body = orjson.loads(encode_state(state))
    body[0] = _V2
    for entry in body[2]:
        entry[9].pop()
    return orjson.dumps(body)


# --- formats 3 and 2: decode (trusted) -----------------------------------------------------------


def _plan_miss(key: tuple[str, str, int]) -> PlanRef:
    if len(_PLANS) >= _PLAN_CACHE_LIMIT:
        _PLANS.clear()
    plan = _PLANS[key] = PlanRef(key[0], _PLAN_TYPES[key[1]], key[2])
    return plan


def _plan_of(value: list[Any]) -> PlanRef:
    key = (value[0], value[1], value[2])
    plan = _PLANS.get(key)
    return _plan_miss(key) if plan is None else plan


def _adjustment_of(value: list[Any], member_id: str, decision_id: str) -> CommissionAdjustment:
    (adjustment_id, own_decision, own_member, agent_id, kind, basis, plan, effective_date,
     months, annual_amount, amount, region, reverses, policy_version) = value
    return CommissionAdjustment(
        adjustment_id=adjustment_id,
        decision_id=decision_id if own_decision is None else own_decision,
        member_id=member_id if own_member is None else own_member,
        agent_id=agent_id, kind=_KINDS[kind], basis=_BASES[basis], plan=_plan_of(plan),
        effective_date=_date_fromisoformat(effective_date), months=months,
        annual_amount=None if annual_amount is None else Decimal(annual_amount),
        amount=None if amount is None else Decimal(amount), schedule_region=region,
        reverses_adjustment_id=reverses, policy_version=policy_version)


def _event_of(value: list[Any], member_id: str) -> MemberEvent:
    if value[0] == _ENROLLMENT:
        _, event_id, occurred_at, recorded_at, own, member_state, plan, effective_date, \
            writing_agent_id = value
        return Enrollment(
            event_id=event_id, occurred_at=_fromisoformat(occurred_at),
            recorded_at=_fromisoformat(recorded_at),
            member_id=member_id if own is None else own, member_state=member_state,
            plan=_plan_of(plan), effective_date=_date_fromisoformat(effective_date),
            writing_agent_id=writing_agent_id)
    tag, event_id, occurred_at, recorded_at, own, member_state, from_plan, to_plan, \
        effective_date, channel, facilitating_agent_id, facilitating_agency_id = value
    if tag != _PLAN_CHANGE:
        raise ValueError(f"unknown event tag {tag!r}")
    return PlanChange(
        event_id=event_id, occurred_at=_fromisoformat(occurred_at),
        recorded_at=_fromisoformat(recorded_at),
        member_id=member_id if own is None else own, member_state=member_state,
        from_plan=None if from_plan is None else _plan_of(from_plan), to_plan=_plan_of(to_plan),
        effective_date=_date_fromisoformat(effective_date), channel=_CHANNELS[channel],
        facilitating_agent_id=facilitating_agent_id,
        facilitating_agency_id=facilitating_agency_id)


def _decode(body: list[Any]) -> MemberState:
    version = body[0]
    if version not in (STATE_VERSION, _V2):
        raise ValueError(f"unknown member-state version {version!r}")
    _, member_id, raw_history, raw_extra = body
    history: list[Entry] = []
    seen: dict[str, MemberEvent] = {}
    for raw in raw_history:
        (raw_event, revision, decision_id, outcome, reason, aor, review, raw_adjustments,
         looked_at, raw_position) = raw
        event = _event_of(raw_event, member_id)
        adjustments = tuple([_adjustment_of(a, member_id, decision_id)
                             for a in raw_adjustments])
        if version == STATE_VERSION:
            p_aor, p_plan, p_date, p_start, p_prior, p_initial_year = raw_position
        else:
            p_aor, p_plan, p_date, p_start, p_prior = raw_position
            p_initial_year = INITIAL_YEAR_NOT_RECORDED
        start: CommissionAdjustment | None
        if p_start is None:
            start = None
        elif type(p_start) is int:
            start = adjustments[p_start]
        else:
            start = _adjustment_of(p_start, member_id, decision_id)
        position = Position(
            agent_of_record_id=p_aor,
            plan=event.new_plan if p_plan is None else _plan_of(p_plan),
            effective_date=(event.effective_date if p_date is None
                            else _date_fromisoformat(p_date)),
            start=start, prior_plan=None if p_prior is None else _plan_of(p_prior),
            initial_year=p_initial_year)
        entry = Entry(
            event=event, revision=revision, decision_id=decision_id,
            outcome=_OUTCOMES[outcome], reason=_REASONS[reason], agent_of_record_id=aor,
            requires_review=review, adjustments=adjustments,
            looked_at=tuple(map(tuple, looked_at)), position=position)
        history.append(entry)
        seen[event.event_id] = event
    for raw in raw_extra:
        event = _event_of(raw, member_id)
        seen[event.event_id] = event
    return MemberState(member_id, tuple(history), seen)


# --- format 1 ------------------------------------------------------------------------------


def _plan_v1(plan: PlanRef | None) -> list[Any] | None:
    return None if plan is None else [plan.plan_id, plan.plan_type.value, plan.plan_year]


def _adjustment_v1(adj: CommissionAdjustment) -> dict[str, Any]:
    # to_jsonable: what orjson writes as to_json's JSON (see codec.jsonl), built faster.
    to_jsonable = record_codec(RecordKind.ADJUSTMENT).to_jsonable
    assert to_jsonable is not None
    result: dict[str, Any] = to_jsonable(adj)
    return result


def _event_v1(event: MemberEvent) -> list[Any]:
    kind = RecordKind.ENROLLMENT if isinstance(event, Enrollment) else RecordKind.PLAN_CHANGE
    to_jsonable = record_codec(kind).to_jsonable
    assert to_jsonable is not None
    return [kind.value, to_jsonable(event)]


def encode_state_v1(state: MemberState) -> bytes:
    """Format 1, as written before format 2 (tests, the bench, rollbacks)."""
    entries = []
    for e in state.history:
        p = e.position
        entries.append({
            "event": _event_v1(e.event),
            "revision": e.revision,
            "decision_id": e.decision_id,
            "outcome": e.outcome.value,
            "reason": e.reason.value,
            "aor": e.agent_of_record_id,
            "review": e.requires_review,
            "adjustments": [_adjustment_v1(a) for a in e.adjustments],
            "looked_at": [list(pair) for pair in e.looked_at],
            "position": {
                "aor": p.agent_of_record_id,
                "plan": _plan_v1(p.plan),
                "effective_date": p.effective_date.isoformat(),
                "start": None if p.start is None else _adjustment_v1(p.start),
                "prior_plan": _plan_v1(p.prior_plan),
            },
        })
    in_history = {e.event.event_id for e in state.history}
    # Seen ids whose event is no longer in the history (none today) are kept whole.
    extra = [_event_v1(ev) for eid, ev in state.seen.items() if eid not in in_history]
    body = {"v": _V1, "member_id": state.member_id, "history": entries, "seen": extra}
    # Strings, ints, bools and None only: orjson writes what the standard library's
    # compact encoder (ensure_ascii off) would.
    return orjson.dumps(body)


# Format 1 holds events and adjustments in their contract JSON form, as the contract
# encoders wrote them: timestamps RFC 3339 UTC with milliseconds and a Z, dates YYYY-MM-DD,
# money with two places. Its records are rearranged into format 2's shape (no value
# elided) and built by the same code; fromisoformat and Decimal read those values exactly
# as the validating decoders did.


def _plan_v1_of(d: dict[str, Any] | None) -> list[Any] | None:
    return None if d is None else [d["plan_id"], d["plan_type"], d["plan_year"]]


def _adjustment_v1_of(d: dict[str, Any]) -> list[Any]:
    return [d["adjustment_id"], d["decision_id"], d["member_id"], d["agent_id"], d["kind"],
            d.get("basis"), _plan_v1_of(d["plan"]), d["effective_date"], d.get("months"),
            d.get("annual_amount"), d.get("amount"), d.get("schedule_region"),
            d.get("reverses_adjustment_id"), d["policy_version"]]


def _event_v1_of(value: list[Any]) -> list[Any]:
    kind, d = value
    if kind == RecordKind.ENROLLMENT.value:
        return [_ENROLLMENT, d["event_id"], d["occurred_at"], d["recorded_at"], d["member_id"],
                d["member_state"], _plan_v1_of(d["plan"]), d["effective_date"],
                d.get("writing_agent_id")]
    if kind != RecordKind.PLAN_CHANGE.value:
        raise ValueError(f"unknown event kind {kind!r}")
    return [_PLAN_CHANGE, d["event_id"], d["occurred_at"], d["recorded_at"], d["member_id"],
            d["member_state"], _plan_v1_of(d.get("from_plan")), _plan_v1_of(d["to_plan"]),
            d["effective_date"], d["channel"], d.get("facilitating_agent_id"),
            d.get("facilitating_agency_id")]


def _body_v1_of(body: dict[str, Any]) -> list[Any]:
    """A format-1 record as a format-2 one (no initial enrollment year)."""
    if body.get("v") != _V1:
        raise ValueError(f"unknown member-state version {body.get('v')!r}")
    entries = []
    for raw in body["history"]:
        p = raw["position"]
        if p["plan"] is None:
            raise ValueError("a position without a plan")
        entries.append([
            _event_v1_of(raw["event"]), raw["revision"], raw["decision_id"], raw["outcome"],
            raw["reason"], raw["aor"], raw["review"],
            [_adjustment_v1_of(a) for a in raw["adjustments"]], raw["looked_at"],
            [p["aor"], p["plan"], p["effective_date"],
             None if p["start"] is None else _adjustment_v1_of(p["start"]), p["prior_plan"]],
        ])
    return [_V2, body["member_id"], entries, [_event_v1_of(raw) for raw in body["seen"]]]


def decode_state(data: bytes) -> MemberState:
    """A member state of either format (ValueError if the record is not one)."""
    body = orjson.loads(data)  # raises orjson.JSONDecodeError, a json.JSONDecodeError
    try:
        if type(body) is dict:
            body = _body_v1_of(body)
        if type(body) is list:
            return _decode(body)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed member-state record: {exc!r}") from exc
    raise ValueError(f"a member-state record is a JSON array or object, not {type(body).__name__}")


def watched_agents(data: bytes) -> frozenset[str]:
    """The agents a stored member's decisions looked at (``agents_looked_at``) without
    decoding the member: what a restore needs to index it."""
    body = orjson.loads(data)
    if isinstance(body, list) and body and body[0] in (STATE_VERSION, _V2):
        return frozenset(agent for entry in body[2] for agent, _ in entry[8])
    return decode_state(data).agents_looked_at
