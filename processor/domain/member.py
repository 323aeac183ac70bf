"""The member engine: one member's state as a fold over its events, with corrections.

Every path that decides anything (first decisions, late events, late snapshots)
goes through `_evaluate`; corrections re-run it over the member's retained events
and diff against what was emitted before.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from processor.domain import ids
from processor.domain.agents import (
    ALL_IDS,
    AgentTable,
    AgentView,
    Horizon,
    event_horizon,
    snapshot_horizon,
)
from processor.domain.commissions import (
    Commission,
    commission,
    comparison_key,
    initial_year_of,
    reversal_of,
)
from processor.domain.model import (
    AdjustmentKind,
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    Decision,
    ErrorType,
    MemberEvent,
    Outcome,
    Reason,
    Rejection,
)
from processor.domain.policy import Position, Ruling, rule
from processor.domain.settings import PolicySettings

HistoryKey = tuple[datetime, datetime, str]


def history_key(event: MemberEvent) -> HistoryKey:
    """A member's history is ordered by occurred_at, then recorded_at, then event_id."""
    return (event.occurred_at, event.recorded_at, event.event_id)


@dataclass(frozen=True, slots=True)
class Entry:
    """One accepted event and where its latest revision stands."""

    event: MemberEvent
    revision: int
    decision_id: str
    outcome: Outcome
    reason: Reason
    agent_of_record_id: str | None
    requires_review: bool
    # The adjustments this event's decisions stand by now (earlier ones net of reversals).
    adjustments: tuple[CommissionAdjustment, ...]
    # Agents and snapshots of the last evaluation, to find what a late snapshot affects.
    looked_at: tuple[tuple[str, str | None], ...]
    position: Position


@dataclass(frozen=True, slots=True)
class MemberState:
    member_id: str
    history: tuple[Entry, ...] = ()
    # Every event id the member has accepted, for duplicates: kept for the member's life.
    seen: Mapping[str, MemberEvent] = field(default_factory=dict)

    @property
    def agent_of_record_id(self) -> str | None:
        return self.history[-1].position.agent_of_record_id if self.history else None

    @property
    def agents_looked_at(self) -> frozenset[str]:
        return frozenset(agent for e in self.history for agent, _ in e.looked_at)


@dataclass(frozen=True, slots=True)
class Step:
    """The result of applying one input to one member."""

    state: MemberState
    decisions: tuple[Decision, ...] = ()
    rejection: Rejection | None = None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class _Evaluation:
    ruling: Ruling
    commission: Commission
    horizon: Horizon


def _evaluate(event: MemberEvent, before: Position | None, agents: AgentView,
              horizon: Horizon, settings: PolicySettings) -> _Evaluation:
    ruling = rule(event, before, agents, horizon, settings)
    return _Evaluation(ruling, commission(event, before, ruling, settings), horizon)


def _mint(event: MemberEvent, evaluation: _Evaluation, revision: int,
          supersedes: str | None, adjustments: list[CommissionAdjustment],
          settings: PolicySettings) -> Decision:
    version = settings.policy_version
    decision_id = ids.decision_id(event.event_id, revision)
    member_id = event.member_id
    # Field by field rather than dataclasses.replace, which is several times slower.
    minted = tuple(
        CommissionAdjustment(
            adjustment_id=ids.adjustment_id(decision_id, index), decision_id=decision_id,
            member_id=member_id, agent_id=adj.agent_id, kind=adj.kind, basis=adj.basis,
            plan=adj.plan, effective_date=adj.effective_date, months=adj.months,
            annual_amount=adj.annual_amount, amount=adj.amount,
            schedule_region=adj.schedule_region,
            reverses_adjustment_id=adj.reverses_adjustment_id, policy_version=version)
        for index, adj in enumerate(adjustments)
    )
    r = evaluation.ruling
    assignment = AorAssignment(
        decision_id=decision_id, revision=revision, supersedes_decision_id=supersedes,
        source_event_id=event.event_id, source_event_type=event.event_type,
        member_id=event.member_id, member_state=event.member_state, plan=event.new_plan,
        effective_date=event.effective_date, occurred_at=event.occurred_at,
        decided_as_of=evaluation.horizon[0], outcome=r.outcome, reason=r.reason,
        previous_agent_id=r.previous_agent_id, agent_of_record_id=r.agent_of_record_id,
        facilitating_agent_id=r.facilitating_agent_id, channel=r.channel,
        requires_review=r.requires_review,
        rule_trace=r.trace + evaluation.commission.trace, policy_version=version,
    )
    return Decision(assignment, minted)


def _position(event: MemberEvent, evaluation: _Evaluation,
              stood_by: tuple[CommissionAdjustment, ...]) -> Position:
    aor = evaluation.ruling.agent_of_record_id
    start = next((a for a in stood_by
                  if a.kind is AdjustmentKind.START and a.agent_id == aor), None)
    c = evaluation.commission
    return Position(aor, event.new_plan, event.effective_date, start, c.prior_plan,
                    c.initial_year)


def _entry(event: MemberEvent, evaluation: _Evaluation, revision: int, decision_id: str,
           stood_by: tuple[CommissionAdjustment, ...]) -> Entry:
    r = evaluation.ruling
    return Entry(event, revision, decision_id, r.outcome, r.reason, r.agent_of_record_id,
                 r.requires_review, stood_by, r.looked_at, _position(event, evaluation, stood_by))


def _reconcile(entry: Entry, evaluation: _Evaluation,
               settings: PolicySettings) -> tuple[Entry, Decision | None]:
    """Compare a re-decision with the latest revision; supersede only when it differs."""
    fresh = list(evaluation.commission.adjustments)
    kept: list[CommissionAdjustment] = []
    dropped: list[CommissionAdjustment] = []
    for old in entry.adjustments:
        key = comparison_key(old)
        match = next((i for i, f in enumerate(fresh) if comparison_key(f) == key), None)
        if match is None:
            dropped.append(old)
        else:
            kept.append(old)
            del fresh[match]
    r = evaluation.ruling
    same = (
        (r.outcome, r.reason, r.agent_of_record_id, r.requires_review)
        == (entry.outcome, entry.reason, entry.agent_of_record_id, entry.requires_review)
        and not dropped and not fresh
    )
    event = entry.event
    if same:
        stood_by = entry.adjustments
        return (replace(entry, looked_at=r.looked_at,
                        position=_position(event, evaluation, stood_by)), None)
    emitted = [reversal_of(old) for old in dropped] + fresh
    revision = entry.revision + 1
    decision = _mint(event, evaluation, revision, entry.decision_id, emitted, settings)
    stood_by = tuple(kept) + decision.adjustments[len(dropped):]
    return _entry(event, evaluation, revision, decision.assignment.decision_id, stood_by), decision


def _redecide(history: list[Entry], start: int, trigger_at: datetime, trigger: Horizon,
              agents: AgentView, settings: PolicySettings) -> list[Decision]:
    """Re-decide history[start:] in order, within the correction window of the trigger."""
    window_start = trigger_at - settings.correction_window
    out: list[Decision] = []
    for j in range(start, len(history)):
        entry = history[j]
        event = entry.event
        if event.occurred_at < window_start:
            continue
        before = history[j - 1].position if j else None
        own = event_horizon(event.recorded_at)
        evaluation = _evaluate(event, before, agents, max(own, trigger), settings)
        history[j], decision = _reconcile(entry, evaluation, settings)
        if decision is not None:
            out.append(decision)
    return out


def _same_payload(a: MemberEvent, b: MemberEvent) -> bool:
    """A redelivery may carry a new recorded_at; everything else must match."""
    return type(a) is type(b) and replace(a, recorded_at=b.recorded_at) == b


def screen(state: MemberState, event: MemberEvent) -> Step | None:
    """A validated event that will not be decided: a duplicate or a conflicting one (the
    state unchanged). None when ``on_event`` would decide it."""
    prior = state.seen.get(event.event_id)
    if prior is None:
        return None
    if _same_payload(prior, event):
        return Step(state, duplicate=True)
    return Step(state, rejection=Rejection(
        ErrorType.CONFLICTING_DUPLICATE,
        f"event_id {event.event_id} was already accepted with a different payload"))


def on_event(state: MemberState, event: MemberEvent, agents: AgentView,
             settings: PolicySettings) -> Step:
    """Decide a validated event: its first decision, then corrections of later events."""
    screened = screen(state, event)
    if screened is not None:
        return screened
    history = list(state.history)
    keys = [history_key(e.event) for e in history]
    i = bisect_right(keys, history_key(event))
    before = history[i - 1].position if i else None
    horizon = event_horizon(event.recorded_at)
    evaluation = _evaluate(event, before, agents, horizon, settings)
    first = _mint(event, evaluation, 0, None, list(evaluation.commission.adjustments), settings)
    history.insert(i, _entry(event, evaluation, 0, first.assignment.decision_id,
                             first.adjustments))
    decisions = [first]
    decisions += _redecide(history, i + 1, event.recorded_at, horizon, agents, settings)
    seen = dict(state.seen)
    seen[event.event_id] = event
    return Step(MemberState(state.member_id, tuple(history), seen), tuple(decisions))


def _first_affected(state: MemberState, snapshot: AgentStatusSnapshot, agents: AgentView,
                    settings: PolicySettings) -> int | None:
    trigger = snapshot_horizon(snapshot)
    window_start = snapshot.recorded_at - settings.correction_window
    for j, entry in enumerate(state.history):
        event = entry.event
        if event.occurred_at < window_start or event.occurred_at < snapshot.effective_at:
            continue
        for agent_id, used in entry.looked_at:
            if agent_id != snapshot.agent_id:
                continue
            horizon = max(event_horizon(event.recorded_at), trigger)
            now = agents.in_force(agent_id, event.occurred_at, horizon)
            if (now.snapshot_id if now is not None else None) != used:
                return j
    return None


def on_snapshot(state: MemberState, snapshot: AgentStatusSnapshot, agents: AgentView,
                settings: PolicySettings) -> Step:
    """Apply a snapshot (already in `agents`) to a member: re-decide what it affects."""
    first = _first_affected(state, snapshot, agents, settings)
    if first is None:
        return Step(state)
    history = list(state.history)
    decisions = _redecide(history, first, snapshot.recorded_at, snapshot_horizon(snapshot),
                          agents, settings)
    return Step(replace(state, history=tuple(history)), tuple(decisions))


def settle(state: MemberState, table: AgentTable, after: Horizon, settings: PolicySettings,
           until: Horizon | None = None) -> Step:
    """Apply, in arrival order, snapshots the table already holds recorded after `after`.

    Used when inputs arrive out of order: a decision made at an earlier horizon is
    corrected by the later snapshots exactly as an in-order replay would correct it.
    """
    decisions: list[Decision] = []
    cursor = after
    while True:
        pending = next(table.recorded_after(state.agents_looked_at, cursor, until), None)
        if pending is None:
            return Step(state, tuple(decisions))
        step = on_snapshot(state, pending, table, settings)
        state = step.state
        decisions.extend(step.decisions)
        cursor = snapshot_horizon(pending)


def redecide(state: MemberState, agents: AgentView, settings: PolicySettings,
             since: datetime, known: Horizon) -> Step:
    """Re-decide, under `settings` (new rules), the member's events that occurred at or
    after `since`, in history order, superseding each whose decision differs.

    Each is evaluated as a fresh replay would have decided it last: at the latest horizon
    an input could still correct it, its correction window's end, or `known` (how far the
    agent table has been read) when that is earlier; never before its own recorded_at.
    Earlier events keep their decisions, and their positions get the initial enrollment
    year rebuilt from history (states of earlier rules do not carry it).
    """
    history = list(state.history)
    decisions: list[Decision] = []
    before: Position | None = None
    window = settings.correction_window
    for j, entry in enumerate(history):
        event = entry.event
        if event.occurred_at < since:
            year = initial_year_of(event, before)
            if entry.position.initial_year != year:
                history[j] = replace(entry, position=replace(entry.position, initial_year=year))
        else:
            horizon = max(event_horizon(event.recorded_at),
                          min(known, (event.occurred_at + window, ALL_IDS)))
            evaluation = _evaluate(event, before, agents, horizon, settings)
            history[j], decision = _reconcile(entry, evaluation, settings)
            if decision is not None:
                decisions.append(decision)
        before = history[j].position
    if history == list(state.history):
        return Step(state)
    return Step(replace(state, history=tuple(history)), tuple(decisions))


def new_member(member_id: str) -> MemberState:
    return MemberState(member_id)


__all__ = [
    "Entry",
    "MemberState",
    "Step",
    "history_key",
    "new_member",
    "on_event",
    "on_snapshot",
    "redecide",
    "settle",
]
