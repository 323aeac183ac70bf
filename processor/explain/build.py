"""The explanation of one member's AOR history, built from records: no I/O, no clock.

An agent-support representative answering a dispute reads it top to bottom: every
decision on the member's events in history order (occurred_at, then revision) with its
rule trace, the agent-status snapshots those decisions relied on, every correction
(what changed against the revision it supersedes, what it reversed, what caused it)
and the member's commission adjustments with a net total per agent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from processor.codec.dead_letter import DeadLetter
from processor.domain.model import (
    AdjustmentKind,
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    MemberEvent,
    PlanRef,
    RuleCheck,
)
from processor.domain.policy import Fact
from processor.domain.settings import Check

# A snapshot recorded this long after it took effect is marked late (backdated).
DEFAULT_LATE_AFTER = timedelta(days=7)
ZERO = Decimal("0.00")
_NEVER = datetime.min.replace(tzinfo=UTC)


_CHECKS = frozenset(c.value for c in Check)
_AFFILIATION_FACTS = frozenset(f.value for f in (
    Fact.WRITING_AGENT_EXTERNAL, Fact.ORIGINAL_AGENT_EXTERNAL, Fact.FACILITATOR_EXTERNAL))


def is_eligibility(check: RuleCheck) -> bool:
    """An eligibility check of an agent, or the agent's affiliation fact."""
    return check.rule in _CHECKS or check.rule in _AFFILIATION_FACTS


class MemberNotFoundError(ValueError):
    """No decision of the member in the source; names how many members the source holds."""

    def __init__(self, member_id: str, members: int, source: str) -> None:
        self.member_id = member_id
        self.members = members
        noun = "member" if members == 1 else "members"
        super().__init__(
            f"member {member_id} not found: {source} holds decisions for {members:,} {noun}")


@dataclass(frozen=True, slots=True)
class Records:
    """What a source holds that an explanation draws on. Records of other members are
    ignored. `snapshots` / `events` are None when the source has no agent-status /
    input events (an outputs folder without --inputs)."""

    assignments: tuple[AorAssignment, ...]
    adjustments: tuple[CommissionAdjustment, ...]
    snapshots: tuple[AgentStatusSnapshot, ...] | None = None
    events: tuple[MemberEvent, ...] | None = None
    dead_letters: tuple[DeadLetter, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One decision (one revision on one event), in history order."""

    index: int  # 1-based position in the member's history
    assignment: AorAssignment
    adjustments: tuple[CommissionAdjustment, ...]
    event: MemberEvent | None  # the input event, when the source has the inputs
    standing: bool  # the latest revision on its event: what stands now

    @property
    def label(self) -> str:
        return f"{self.assignment.source_event_id} r{self.assignment.revision}"

    @property
    def failed_eligibility(self) -> tuple[RuleCheck, ...]:
        """The failed eligibility entries: the five checks and the agent's affiliation
        (an internal agent is never an AOR). Other false entries are routing facts."""
        return tuple(c for c in self.assignment.rule_trace
                     if not c.passed and is_eligibility(c))

    @property
    def snapshot_ids(self) -> tuple[str, ...]:
        return _unique(c.snapshot_id for c in self.assignment.rule_trace if c.snapshot_id)


@dataclass(frozen=True, slots=True)
class SnapshotUse:
    """An agent-status snapshot that at least one of the member's decisions relied on."""

    snapshot_id: str
    agent_id: str
    snapshot: AgentStatusSnapshot | None  # None: not in the source (or no agent-status)
    relied_on_by: tuple[str, ...]  # step labels
    # Steps whose event occurred before this snapshot was recorded: it changed them
    # after the fact (a late or corrected snapshot).
    recorded_after_event_of: tuple[str, ...]
    late: bool  # recorded more than late_after after it took effect

    @property
    def lag(self) -> timedelta | None:
        s = self.snapshot
        return None if s is None else s.recorded_at - s.effective_at


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between a correction and the revision it supersedes."""

    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Correction:
    step: Step  # the superseding decision
    previous: Step | None  # the decision it supersedes (None: not in the source)
    changes: tuple[Change, ...]
    reversals: tuple[CommissionAdjustment, ...]
    new_adjustments: tuple[CommissionAdjustment, ...]
    # Inputs recorded at the correction's horizon (decided_as_of): what caused it.
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgentTotal:
    agent_id: str
    starts: Decimal  # sum of START amounts
    recoveries: Decimal  # sum of STOP amounts (negative or zero): what STOPs recover
    reversals: Decimal  # sum of REVERSAL amounts
    stops: int  # STOPs, recovering or not
    net: Decimal  # every amount: starts + recoveries + reversals


@dataclass(frozen=True, slots=True)
class Summary:
    events: int
    decisions: int
    corrections: int
    current_agent_of_record_id: str | None
    current_outcome: str
    current_reason: str
    open_reviews: tuple[str, ...]  # standing decisions with requires_review
    released_by: tuple[str, ...]  # standing decisions that released an agent of record
    net: Decimal
    policy_versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    member_id: str
    member_state: str
    source: str
    late_after: timedelta
    steps: tuple[Step, ...]
    snapshots: tuple[SnapshotUse, ...]
    snapshots_available: bool
    events: tuple[MemberEvent, ...] | None
    corrections: tuple[Correction, ...]
    adjustments: tuple[CommissionAdjustment, ...]
    totals: tuple[AgentTotal, ...]
    dead_letters: tuple[DeadLetter, ...]

    @property
    def summary(self) -> Summary:
        standing = [s for s in self.steps if s.standing]
        last = standing[-1].assignment
        return Summary(
            events=len({s.assignment.source_event_id for s in self.steps}),
            decisions=len(self.steps),
            corrections=len(self.corrections),
            current_agent_of_record_id=last.agent_of_record_id,
            current_outcome=last.outcome.value,
            current_reason=last.reason.value,
            open_reviews=tuple(s.label for s in standing if s.assignment.requires_review),
            released_by=tuple(s.label for s in standing
                              if s.assignment.previous_agent_id is not None
                              and s.assignment.agent_of_record_id is None),
            net=sum((t.net for t in self.totals), ZERO),
            policy_versions=_unique(s.assignment.policy_version for s in self.steps),
        )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def member_count(assignments: Iterable[AorAssignment]) -> int:
    return len({a.member_id for a in assignments})


def _mentions(letter: DeadLetter, member_id: str) -> bool:
    """A dead letter of the member: keyed by it (Kafka), or a JSON value naming it."""
    if letter.key is not None and letter.key == member_id.encode():
        return True
    if letter.value is None:
        return False
    try:
        value = json.loads(letter.value)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and value.get("member_id") == member_id


def explain(member_id: str, records: Records, *, source: str = "the source",
            late_after: timedelta = DEFAULT_LATE_AFTER) -> Explanation:
    """The member's explanation; MemberNotFoundError when no decision of it is in
    `records` (the message names how many members the records hold)."""
    mine = [a for a in records.assignments if a.member_id == member_id]
    if not mine:
        raise MemberNotFoundError(member_id, member_count(records.assignments), source)
    events = None
    if records.events is not None:
        events = tuple(sorted((e for e in records.events if e.member_id == member_id),
                              key=lambda e: (e.occurred_at, e.recorded_at, e.event_id)))
    by_event = {e.event_id: e for e in events or ()}
    adjustments_of: dict[str, list[CommissionAdjustment]] = {}
    for adj in {a.adjustment_id: a for a in records.adjustments
                if a.member_id == member_id}.values():
        adjustments_of.setdefault(adj.decision_id, []).append(adj)

    # History order: occurred_at (ties: the event's recorded_at, which is the horizon of
    # its first decision, then event_id), then revision.
    first_seen: dict[str, datetime] = {}
    for a in mine:
        known = by_event.get(a.source_event_id)
        at = known.recorded_at if known is not None else a.decided_as_of
        first_seen[a.source_event_id] = min(at, first_seen.get(a.source_event_id, at))
    unique = {a.decision_id: a for a in mine}.values()  # a re-read output counts once
    ordered = sorted(unique, key=lambda a: (a.occurred_at, first_seen[a.source_event_id],
                                            a.source_event_id, a.revision))
    latest: dict[str, int] = {}
    for a in ordered:
        latest[a.source_event_id] = max(latest.get(a.source_event_id, 0), a.revision)
    steps = tuple(
        Step(index=n, assignment=a, adjustments=tuple(adjustments_of.get(a.decision_id, ())),
             event=by_event.get(a.source_event_id),
             standing=a.revision == latest[a.source_event_id])
        for n, a in enumerate(ordered, start=1))

    uses = _snapshot_uses(steps, records.snapshots, late_after)
    corrections = tuple(_correction(step, steps, uses, events)
                        for step in steps if step.assignment.revision > 0)
    # In history order of their decisions (any without one in the source last), each
    # decision's in the order it emitted them.
    step_of = {s.assignment.decision_id: s.index for s in steps}
    adjustments = tuple(
        adj for decision_id in sorted(adjustments_of,
                                      key=lambda d: step_of.get(d, len(steps) + 1))
        for adj in adjustments_of[decision_id])
    return Explanation(
        member_id=member_id,
        member_state=ordered[-1].member_state,
        source=source,
        late_after=late_after,
        steps=steps,
        snapshots=uses,
        snapshots_available=records.snapshots is not None,
        events=events,
        corrections=corrections,
        adjustments=adjustments,
        totals=_totals(adjustments),
        dead_letters=tuple(d for d in records.dead_letters if _mentions(d, member_id)),
    )


def _snapshot_uses(steps: Sequence[Step], snapshots: Iterable[AgentStatusSnapshot] | None,
                   late_after: timedelta) -> tuple[SnapshotUse, ...]:
    agent_of: dict[str, str] = {}
    users: dict[str, list[Step]] = {}
    for step in steps:
        for check in step.assignment.rule_trace:
            if check.snapshot_id is None:
                continue
            agent_of.setdefault(check.snapshot_id, check.agent_id or "?")
            users.setdefault(check.snapshot_id, [])
            if step not in users[check.snapshot_id]:
                users[check.snapshot_id].append(step)
    held = {s.snapshot_id: s for s in snapshots or () if s.snapshot_id in users}
    out = []
    for sid, steps_using in users.items():
        snap = held.get(sid)
        after = () if snap is None else tuple(
            s.label for s in steps_using if snap.recorded_at > s.assignment.occurred_at)
        out.append(SnapshotUse(
            snapshot_id=sid, agent_id=agent_of[sid], snapshot=snap,
            relied_on_by=tuple(s.label for s in steps_using),
            recorded_after_event_of=after,
            late=snap is not None and snap.recorded_at - snap.effective_at > late_after))
    # Per agent, in the order the snapshots took effect (ones not in the source last).
    return tuple(sorted(out, key=lambda u: (
        u.agent_id, u.snapshot is None,
        u.snapshot.effective_at if u.snapshot else _NEVER,
        u.snapshot.recorded_at if u.snapshot else _NEVER,
        u.snapshot_id)))


def stamp(value: datetime) -> str:
    """A timestamp as the contract writes it: RFC 3339 UTC with milliseconds."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, PlanRef):
        return f"{value.plan_id} ({value.plan_type.value} {value.plan_year})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return stamp(value)
    return str(getattr(value, "value", value))


def check_text(check: RuleCheck) -> str:
    """`pass: detail` / `FAIL: detail`, as corrections list a changed trace entry."""
    return f"{'pass' if check.passed else 'FAIL'}: {check.detail}"


_COMPARED = ("outcome", "reason", "previous_agent_id", "agent_of_record_id",
             "facilitating_agent_id", "channel", "requires_review", "plan", "effective_date",
             "policy_version", "decided_as_of")


def _trace_keys(trace: Sequence[RuleCheck]) -> dict[tuple[str, str | None, int], RuleCheck]:
    seen: dict[tuple[str, str | None], int] = {}
    keyed = {}
    for check in trace:
        n = seen[(check.rule, check.agent_id)] = seen.get((check.rule, check.agent_id), 0) + 1
        keyed[(check.rule, check.agent_id, n)] = check
    return keyed


def _snapshots_by_agent(trace: Sequence[RuleCheck]) -> dict[str, str]:
    found: dict[str, str] = {}
    for check in trace:
        if check.rule == Check.SNAPSHOT_FOUND.value and check.agent_id is not None:
            found[check.agent_id] = check.snapshot_id or "none in force"
    return found


def changes_between(before: AorAssignment, after: AorAssignment) -> tuple[Change, ...]:
    """What differs: the output fields, the snapshot in force for each agent looked at,
    then the trace entries (on pass/fail and detail), in trace order."""
    out = [Change(name, _text(getattr(before, name)), _text(getattr(after, name)))
           for name in _COMPARED if getattr(before, name) != getattr(after, name)]
    old_snaps = _snapshots_by_agent(before.rule_trace)
    new_snaps = _snapshots_by_agent(after.rule_trace)
    for looked_at in list(new_snaps) + [a for a in old_snaps if a not in new_snaps]:
        was = old_snaps.get(looked_at, "not looked at")
        now = new_snaps.get(looked_at, "not looked at")
        if was != now:
            out.append(Change(f"snapshot of {looked_at}", was, now))
    old, new = _trace_keys(before.rule_trace), _trace_keys(after.rule_trace)
    for key in list(new) + [k for k in old if k not in new]:
        rule, agent, _ = key
        name = f"trace {rule}" + (f" {agent}" if agent else "")
        was_check, now_check = old.get(key), new.get(key)
        was_text = "absent" if was_check is None else check_text(was_check)
        now_text = "absent" if now_check is None else check_text(now_check)
        if was_text != now_text:
            out.append(Change(name, was_text, now_text))
    return tuple(out)


def _correction(step: Step, steps: Sequence[Step], uses: Sequence[SnapshotUse],
                events: Sequence[MemberEvent] | None) -> Correction:
    a = step.assignment
    previous = next((s for s in steps
                     if s.assignment.decision_id == a.supersedes_decision_id), None)
    if previous is None:
        previous = next((s for s in steps if s.assignment.source_event_id == a.source_event_id
                         and s.assignment.revision == a.revision - 1), None)
    changes = () if previous is None else changes_between(previous.assignment, a)
    horizon = a.decided_as_of
    causes = [
        f"snapshot {u.snapshot_id} of {u.agent_id} ({u.snapshot.status.value}, effective "
        f"{stamp(u.snapshot.effective_at)}) recorded {stamp(u.snapshot.recorded_at)}"
        for u in uses if u.snapshot is not None and u.snapshot.recorded_at == horizon]
    causes.extend(
        f"late event {e.event_id} ({e.event_type.value}, occurred "
        f"{stamp(e.occurred_at)}) recorded {stamp(e.recorded_at)}"
        for e in events or () if e.recorded_at == horizon and e.event_id != a.source_event_id)
    if not causes:
        causes.append(f"no input of this member, and no snapshot its decisions relied on, in "
                      f"the source was recorded at its horizon {stamp(horizon)}")
    return Correction(
        step=step, previous=previous, changes=changes,
        reversals=tuple(x for x in step.adjustments if x.kind is AdjustmentKind.REVERSAL),
        new_adjustments=tuple(x for x in step.adjustments
                              if x.kind is not AdjustmentKind.REVERSAL),
        causes=tuple(causes))


def _totals(adjustments: Iterable[CommissionAdjustment]) -> tuple[AgentTotal, ...]:
    starts: dict[str, Decimal] = {}
    recoveries: dict[str, Decimal] = {}
    reversals: dict[str, Decimal] = {}
    stops: dict[str, int] = {}
    for adj in adjustments:
        agent = adj.agent_id
        starts.setdefault(agent, ZERO)
        recoveries.setdefault(agent, ZERO)
        reversals.setdefault(agent, ZERO)
        stops.setdefault(agent, 0)
        amount = adj.amount if adj.amount is not None else ZERO
        if adj.kind is AdjustmentKind.START:
            starts[agent] += amount
        elif adj.kind is AdjustmentKind.REVERSAL:
            reversals[agent] += amount
        else:
            recoveries[agent] += amount
            stops[agent] += 1
    return tuple(AgentTotal(agent, starts[agent], recoveries[agent], reversals[agent],
                            stops[agent], starts[agent] + recoveries[agent] + reversals[agent])
                 for agent in sorted(starts))


__all__ = [
    "DEFAULT_LATE_AFTER",
    "AgentTotal",
    "Change",
    "Correction",
    "Explanation",
    "MemberNotFoundError",
    "Records",
    "SnapshotUse",
    "Step",
    "Summary",
    "changes_between",
    "check_text",
    "explain",
    "is_eligibility",
    "member_count",
    "stamp",
]
