"""The what-if diff: historical (baseline) outputs against a scenario's, with no I/O.

Both sides are lists of AorAssignment and CommissionAdjustment as emitted (corrections
included). Compared:

- per event, its latest revision's outcome and reason;
- per member, the final AOR (the latest revision of the member's last event in history
  order: ``occurred_at``, then ``recorded_at``, then ``event_id``; ``recorded_at`` is the
  ``decided_as_of`` of the event's first decision, which is its horizon), the standing
  adjustments (what remains once every REVERSAL has cancelled what it reverses) and
  the net amount (the sum of every amount, reversals included);
- per agent and in total, the net amount and the recoveries: what STOPs take back
  (policy.md "Commission adjustments"), as it stands once reversals are counted;
- per agent, the members gained and lost as final AOR;
- per outcome and reason, the events (latest revisions) on each side;
- per month (or quarter, for long histories) of effective date, events by outcome.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from processor.domain.model import (
    AdjustmentKind,
    AorAssignment,
    CommissionAdjustment,
    Outcome,
)

ZERO = Decimal("0.00")
# What can differ for a member, in the order `MemberDiff.changed` lists it.
CHANGE_FIELDS: tuple[str, ...] = ("events", "aor", "outcome", "reason", "adjustments")
# Above this many months the timeline is by quarter.
MAX_MONTHS = 48

OutcomeReason = tuple[str, str]
Signature = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class RunOutputs:
    """One side of the comparison: the outputs of a run, in emission order."""

    assignments: tuple[AorAssignment, ...]
    adjustments: tuple[CommissionAdjustment, ...]
    dead_letters: int = 0


@dataclass(frozen=True, slots=True)
class EventChange:
    """An event whose latest outcome or reason differs (None: not decided on that side)."""

    event_id: str
    baseline: OutcomeReason | None
    scenario: OutcomeReason | None

    def describe(self, arrow: str = " -> ") -> str:
        def side(value: OutcomeReason | None) -> str:
            return "not decided" if value is None else f"{value[0]} {value[1]}"

        return f"{side(self.baseline)}{arrow}{side(self.scenario)}"


@dataclass(frozen=True, slots=True)
class MemberDiff:
    member_id: str
    baseline_aor: str | None
    scenario_aor: str | None
    changed: tuple[str, ...]  # a subsequence of CHANGE_FIELDS
    baseline_net: Decimal
    scenario_net: Decimal
    event_changes: tuple[EventChange, ...]

    @property
    def delta(self) -> Decimal:
        return self.scenario_net - self.baseline_net

    @property
    def aor_changed(self) -> bool:
        return self.baseline_aor != self.scenario_aor


@dataclass(frozen=True, slots=True)
class AgentDiff:
    agent_id: str
    baseline_net: Decimal
    scenario_net: Decimal
    members_gained: int
    members_lost: int
    # Part of the nets: the amounts of STOPs (<= 0) and of the REVERSALs in their chains.
    baseline_recoveries: Decimal = ZERO
    scenario_recoveries: Decimal = ZERO

    @property
    def delta(self) -> Decimal:
        return self.scenario_net - self.baseline_net

    @property
    def recoveries_delta(self) -> Decimal:
        return self.scenario_recoveries - self.baseline_recoveries


@dataclass(frozen=True, slots=True)
class ReasonDiff:
    outcome: str
    reason: str
    baseline_count: int
    scenario_count: int

    @property
    def delta(self) -> int:
        return self.scenario_count - self.baseline_count


@dataclass(frozen=True, slots=True)
class PeriodCount:
    """Events (latest revisions) with `outcome` effective in `period`, on each side."""

    period: str  # "2026-01" or "2026-Q1"
    outcome: str
    baseline: int
    scenario: int


@dataclass(frozen=True, slots=True)
class WhatIfDiff:
    members: tuple[MemberDiff, ...]  # changed members only, by member_id
    agents: tuple[AgentDiff, ...]  # every agent with an adjustment or an AOR, by agent_id
    reasons: tuple[ReasonDiff, ...]  # by outcome, reason
    timeline: tuple[PeriodCount, ...]  # by period, then outcome
    period_unit: str  # "month" or "quarter"
    members_compared: int
    events_compared: int
    events_changed: int
    baseline_total: Decimal
    scenario_total: Decimal
    baseline_versions: tuple[str, ...]  # policy_version values, most frequent first
    scenario_versions: tuple[str, ...]
    baseline_dead_letters: int
    scenario_dead_letters: int
    # Part of the totals, as AgentDiff's.
    baseline_recoveries: Decimal = ZERO
    scenario_recoveries: Decimal = ZERO

    @property
    def delta(self) -> Decimal:
        return self.scenario_total - self.baseline_total

    @property
    def recoveries_delta(self) -> Decimal:
        return self.scenario_recoveries - self.baseline_recoveries

    @property
    def members_changed(self) -> int:
        return len(self.members)

    @property
    def aor_changes(self) -> int:
        return sum(m.aor_changed for m in self.members)

    def top_members(self, n: int) -> tuple[MemberDiff, ...]:
        """The `n` changed members with the largest |delta| (AOR changes first on ties)."""
        ranked = sorted(self.members,
                        key=lambda m: (-abs(m.delta), not m.aor_changed, m.member_id))
        return tuple(ranked[:n])

    def top_agents(self, n: int) -> tuple[AgentDiff, ...]:
        """The `n` agents with the largest non-zero |delta|."""
        ranked = sorted((a for a in self.agents if a.delta),
                        key=lambda a: (-abs(a.delta), a.agent_id))
        return tuple(ranked[:n])

    @property
    def changed_reasons(self) -> tuple[ReasonDiff, ...]:
        return tuple(r for r in self.reasons if r.delta)


@dataclass(frozen=True, slots=True)
class _Side:
    """One side, indexed."""

    latest: Mapping[str, AorAssignment]  # event id -> latest revision
    member_events: Mapping[str, tuple[str, ...]]  # member id -> event ids, history order
    member_net: Mapping[str, Decimal]
    member_standing: Mapping[str, Counter[Signature]]
    agent_net: Mapping[str, Decimal]
    agent_recoveries: Mapping[str, Decimal]
    total: Decimal
    recoveries: Decimal
    versions: tuple[str, ...]

    def final_aor(self, member_id: str) -> str | None:
        events = self.member_events.get(member_id)
        if not events:
            return None
        return self.latest[events[-1]].agent_of_record_id

    def outcome_of(self, event_id: str) -> OutcomeReason | None:
        a = self.latest.get(event_id)
        return None if a is None else (a.outcome.value, a.reason.value)


def compare(baseline: RunOutputs, scenario: RunOutputs) -> WhatIfDiff:
    """Diff the scenario's outputs against the baseline's."""
    base, scen = _index(baseline), _index(scenario)
    member_ids = sorted(set(base.member_events) | set(scen.member_events)
                        | set(base.member_net) | set(scen.member_net))
    members: list[MemberDiff] = []
    gained: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for member_id in member_ids:
        diff = _member(member_id, base, scen)
        if diff is None:
            continue
        members.append(diff)
        if diff.aor_changed:
            if diff.scenario_aor is not None:
                gained[diff.scenario_aor] += 1
            if diff.baseline_aor is not None:
                lost[diff.baseline_aor] += 1
    agent_ids = sorted(set(base.agent_net) | set(scen.agent_net) | set(gained) | set(lost))
    agents = tuple(
        AgentDiff(agent_id, base.agent_net.get(agent_id, ZERO),
                  scen.agent_net.get(agent_id, ZERO), gained[agent_id], lost[agent_id],
                  base.agent_recoveries.get(agent_id, ZERO),
                  scen.agent_recoveries.get(agent_id, ZERO))
        for agent_id in agent_ids)
    event_ids = set(base.latest) | set(scen.latest)
    periods, unit = _timeline(base.latest.values(), scen.latest.values())
    return WhatIfDiff(
        members=tuple(members),
        agents=agents,
        reasons=_reasons(base.latest.values(), scen.latest.values()),
        timeline=periods,
        period_unit=unit,
        members_compared=len(member_ids),
        events_compared=len(event_ids),
        events_changed=sum(base.outcome_of(e) != scen.outcome_of(e) for e in event_ids),
        baseline_total=base.total,
        scenario_total=scen.total,
        baseline_versions=base.versions,
        scenario_versions=scen.versions,
        baseline_dead_letters=baseline.dead_letters,
        scenario_dead_letters=scenario.dead_letters,
        baseline_recoveries=base.recoveries,
        scenario_recoveries=scen.recoveries,
    )


def _member(member_id: str, base: _Side, scen: _Side) -> MemberDiff | None:
    base_events = base.member_events.get(member_id, ())
    scen_events = scen.member_events.get(member_id, ())
    event_changes = tuple(
        EventChange(e, base.outcome_of(e), scen.outcome_of(e))
        for e in _union_in_order(base_events, scen_events)
        if base.outcome_of(e) != scen.outcome_of(e))
    changed = {
        "events": set(base_events) != set(scen_events),
        "aor": base.final_aor(member_id) != scen.final_aor(member_id),
        "outcome": any(_part(c.baseline, 0) != _part(c.scenario, 0) for c in event_changes),
        "reason": any(_part(c.baseline, 1) != _part(c.scenario, 1) for c in event_changes),
        "adjustments": (base.member_standing.get(member_id, Counter())
                        != scen.member_standing.get(member_id, Counter())
                        or base.member_net.get(member_id, ZERO)
                        != scen.member_net.get(member_id, ZERO)),
    }
    fields = tuple(f for f in CHANGE_FIELDS if changed[f])
    if not fields:
        return None
    return MemberDiff(member_id, base.final_aor(member_id), scen.final_aor(member_id), fields,
                      base.member_net.get(member_id, ZERO),
                      scen.member_net.get(member_id, ZERO), event_changes)


def _part(value: OutcomeReason | None, index: int) -> str | None:
    return None if value is None else value[index]


def _union_in_order(first: Sequence[str], second: Sequence[str]) -> list[str]:
    seen = dict.fromkeys(first)
    seen.update(dict.fromkeys(second))
    return list(seen)


def _index(outputs: RunOutputs) -> _Side:
    latest: dict[str, AorAssignment] = {}
    first: dict[str, AorAssignment] = {}
    for a in outputs.assignments:
        event = a.source_event_id
        if event not in latest or a.revision >= latest[event].revision:
            latest[event] = a
        if event not in first or a.revision < first[event].revision:
            first[event] = a
    by_member: defaultdict[str, list[str]] = defaultdict(list)
    for event, a in latest.items():
        by_member[a.member_id].append(event)

    def history_key(event: str) -> tuple[datetime, datetime, str]:
        # The first decision's horizon is the event's recorded_at (contract.md "Time").
        return (latest[event].occurred_at, first[event].decided_as_of, event)

    member_events = {m: tuple(sorted(events, key=history_key))
                     for m, events in by_member.items()}
    member_net: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    agent_net: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    agent_recoveries: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    by_member_adj: defaultdict[str, list[CommissionAdjustment]] = defaultdict(list)
    # Adjustment ids are unique across members, so chains resolve over the whole side.
    by_id = {adj.adjustment_id: adj for adj in outputs.adjustments}
    total = recoveries = ZERO
    for adj in outputs.adjustments:
        by_member_adj[adj.member_id].append(adj)
        amount = adj.amount if adj.amount is not None else ZERO
        member_net[adj.member_id] += amount
        agent_net[adj.agent_id] += amount
        total += amount
        if recovers(adj, by_id):
            agent_recoveries[adj.agent_id] += amount
            recoveries += amount
    for a in latest.values():  # an agent of record with no adjustment still counts
        if a.agent_of_record_id is not None:
            agent_net.setdefault(a.agent_of_record_id, ZERO)
    versions = Counter(a.policy_version for a in outputs.assignments)
    versions.update(adj.policy_version for adj in outputs.adjustments)
    return _Side(
        latest=latest,
        member_events=member_events,
        member_net=dict(member_net),
        member_standing={m: standing(adjs) for m, adjs in by_member_adj.items()},
        agent_net=dict(agent_net),
        agent_recoveries=dict(agent_recoveries),
        total=total,
        recoveries=recoveries,
        versions=tuple(v for v, _ in sorted(versions.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def signature(adj: CommissionAdjustment) -> Signature:
    """What an adjustment pays, without its ids and policy version."""
    return (adj.kind.value, adj.agent_id, adj.plan.plan_id, adj.plan.plan_type.value,
            adj.plan.plan_year, adj.basis.value if adj.basis else None,
            adj.effective_date.isoformat(), adj.amount)


def standing(adjustments: Iterable[CommissionAdjustment]) -> Counter[Signature]:
    """The adjustments that stand once each REVERSAL has cancelled what it reverses.

    Every adjustment leads, through `reverses_adjustment_id`, to a root (one that reverses
    nothing known); it counts +1 for its root at an even distance and -1 at an odd one,
    so a reversal cancels its target and a reversal of a reversal restores it.
    """
    items = list(adjustments)
    by_id = {a.adjustment_id: a for a in items}
    weight: Counter[str] = Counter()
    for adj in items:
        root, hops = _root(adj, by_id, len(items))
        weight[root.adjustment_id] += -1 if hops % 2 else 1
    result: Counter[Signature] = Counter()
    for adjustment_id, count in weight.items():
        if count > 0:
            result[signature(by_id[adjustment_id])] += count
    return result


def recovers(adj: CommissionAdjustment, by_id: Mapping[str, CommissionAdjustment]) -> bool:
    """Whether `adj`'s amount counts as a recovery: it is a STOP or a REVERSAL in a STOP's
    chain (reversing a STOP gives its recovery back, reversing that takes it again). A
    second election's REVERSAL leads to a START, so it is no recovery; nor is a REVERSAL
    whose target is not in `by_id`, since what it reverses is unknown."""
    return _root(adj, by_id, len(by_id))[0].kind is AdjustmentKind.STOP


def _root(adj: CommissionAdjustment, by_id: Mapping[str, CommissionAdjustment], limit: int,
          ) -> tuple[CommissionAdjustment, int]:
    """The root `adj` leads to through `reverses_adjustment_id` (an adjustment that reverses
    nothing in `by_id`) and the reversals in between; `limit` ends a cycle."""
    node, hops = adj, 0
    while node.kind is AdjustmentKind.REVERSAL and hops < limit:
        target = node.reverses_adjustment_id
        if target is None or target not in by_id:
            break
        node, hops = by_id[target], hops + 1
    return node, hops


def _reasons(base: Iterable[AorAssignment], scen: Iterable[AorAssignment],
             ) -> tuple[ReasonDiff, ...]:
    b = Counter((a.outcome.value, a.reason.value) for a in base)
    s = Counter((a.outcome.value, a.reason.value) for a in scen)
    return tuple(ReasonDiff(o, r, b[(o, r)], s[(o, r)]) for o, r in sorted(set(b) | set(s)))


def _timeline(base: Iterable[AorAssignment], scen: Iterable[AorAssignment],
              ) -> tuple[tuple[PeriodCount, ...], str]:
    base_list, scen_list = list(base), list(scen)
    dates = [a.effective_date for a in base_list + scen_list]
    if not dates:
        return (), "month"
    first, last = min(dates), max(dates)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    unit = "month" if months <= MAX_MONTHS else "quarter"

    def period(day: date) -> str:
        if unit == "month":
            return f"{day.year:04d}-{day.month:02d}"
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"

    b = Counter((period(a.effective_date), a.outcome.value) for a in base_list)
    s = Counter((period(a.effective_date), a.outcome.value) for a in scen_list)
    outcomes = [o.value for o in Outcome if any(k[1] == o.value for k in b | s)]
    all_periods: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        label = period(date(year, month, 1))
        if label not in all_periods:
            all_periods.append(label)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    rows = tuple(PeriodCount(p, o, b[(p, o)], s[(p, o)]) for p in all_periods for o in outcomes)
    return rows, unit


__all__ = [
    "CHANGE_FIELDS",
    "AgentDiff",
    "EventChange",
    "MemberDiff",
    "PeriodCount",
    "ReasonDiff",
    "RunOutputs",
    "WhatIfDiff",
    "compare",
    "recovers",
    "signature",
    "standing",
]
