"""Hypothesis properties of the domain over small generated worlds.

A world is a few agents with several snapshots each (late and backdated ones
included) and a few members with enrollments and plan changes across all channels,
all within about a year, so every input is inside the 731-day correction window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from processor.domain.agents import ALL_IDS, AgentTable
from processor.domain.commissions import comparison_key
from processor.domain.engine import Engine
from processor.domain.model import (
    FACILITATED_CHANNELS,
    INTERNAL_CHANNELS,
    Affiliation,
    AgentStatus,
    AgentStatusSnapshot,
    AorAssignment,
    Channel,
    Decision,
    Enrollment,
    EventType,
    MemberEvent,
    PlanChange,
    PlanRef,
    PlanType,
)
from processor.domain.settings import Check, PolicySettings
from tests.builders import CHECKS, policy_row, traces_all_five

BASE = datetime(2025, 6, 1, tzinfo=UTC)
AGENT_IDS = ("A1", "A2", "A3")
POOL = (*AGENT_IDS, "GHOST")  # GHOST never has a snapshot
STATES = ("FL", "CA", "TX")
SETTINGS = PolicySettings()
# Order independence holds under what-if settings too (rows S1-S3, checks switched off).
WHAT_IF = (
    SETTINGS,
    PolicySettings(name="unprotected-telesales",
                   protected_channels=INTERNAL_CHANNELS - {Channel.INTERNAL_TELESALES}),
    PolicySettings(name="facilitator-keeps-out", facilitator_takes_aor=False),
    PolicySettings(name="no-certification",
                   eligibility_checks=frozenset({Check.ACTIVE, Check.LICENSED,
                                                 Check.APPOINTED})),
)

PROFILE = settings(deadline=None, max_examples=200,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Input = AgentStatusSnapshot | MemberEvent

# Mostly eligible external agents, so that AORs are assigned and then lose a check or
# become internal (hired by the carrier) in a later snapshot.
AFFILIATIONS = (Affiliation.EXTERNAL,) * 3 + (Affiliation.CALL_CENTER, Affiliation.INTERNAL)
STATUSES = (AgentStatus.ACTIVE,) * 6 + (AgentStatus.SUSPENDED, AgentStatus.TERMINATED)
LICENSES: tuple[tuple[str, ...], ...] = (STATES,) * 6 + (("FL", "CA"), ("TX",), ())
CERTIFICATIONS: tuple[tuple[int, ...], ...] = ((2025, 2026),) * 6 + ((2025,), (2026,), ())


def _change(**fields: object) -> Callable[[AgentStatusSnapshot], AgentStatusSnapshot]:
    return lambda s: replace(s, **fields)  # type: ignore[arg-type]


CHANGE_FIELDS: dict[str, Callable[[AgentStatusSnapshot], AgentStatusSnapshot]] = {
    "reinstated": _change(),
    "hired": _change(affiliation=Affiliation.INTERNAL),
    "to-call-center": _change(affiliation=Affiliation.CALL_CENTER),
    "suspended": _change(status=AgentStatus.SUSPENDED),
    "terminated": _change(status=AgentStatus.TERMINATED),
    "license-lapsed": _change(licensed_states=("CA", "TX")),
    "appointment-lapsed": _change(appointed_states=("FL", "TX")),
    "not-certified-2026": _change(certified_plan_years=(2025,)),
    "not-certified-2025": _change(certified_plan_years=(2026,)),
}
# "hired" twice: an AOR becoming a carrier employee is the case most easily missed.
CHANGES = (*CHANGE_FIELDS, "hired", "random")


def _instant(day: int, hour: int) -> datetime:
    return BASE + timedelta(days=day, hours=hour)


@st.composite
def agent_snapshots(draw: st.DrawFn, agent_id: str) -> list[AgentStatusSnapshot]:
    """An agent's history: usually in force from before any event, then changes.

    Each later snapshot changes one thing from the agent's first (the carrier hires the
    agent, a suspension, a termination, a lapsed license, appointment or certification,
    or a reinstatement), or is drawn at random.
    """
    base = AgentStatusSnapshot(
        snapshot_id=f"{agent_id}-s0", agent_id=agent_id,
        effective_at=_instant(-30, 0), recorded_at=_instant(-30, 0),
        affiliation=draw(st.sampled_from(AFFILIATIONS)), agency_id=None,
        status=AgentStatus.ACTIVE, licensed_states=STATES, appointed_states=STATES,
        certified_plan_years=(2025, 2026),
    )
    out = []
    for k in range(draw(st.integers(1, 4))):
        first = k == 0 and draw(st.integers(0, 3)) > 0
        day = -30 if first else draw(st.integers(-30, 300))
        effective = _instant(day, draw(st.sampled_from((0, 12))))
        # Recorded on time, a little late, or backdated by months.
        delay = 0 if first else draw(st.sampled_from((0, 0, 0, 1, 7, 45, 90)))
        change = "reinstated" if first else draw(st.sampled_from(CHANGES))
        if change == "random":
            snap = replace(
                base,
                affiliation=draw(st.sampled_from(AFFILIATIONS)),
                status=draw(st.sampled_from(STATUSES)),
                licensed_states=draw(st.sampled_from(LICENSES)),
                appointed_states=draw(st.sampled_from(LICENSES)),
                certified_plan_years=draw(st.sampled_from(CERTIFICATIONS)),
            )
        else:
            snap = CHANGE_FIELDS[change](base)
        out.append(replace(snap, snapshot_id=f"{agent_id}-s{k}", effective_at=effective,
                           recorded_at=effective + timedelta(days=delay)))
    return out


@st.composite
def plans(draw: st.DrawFn) -> PlanRef:
    plan_type = draw(st.sampled_from(tuple(PlanType)))
    year = draw(st.sampled_from((2025, 2026)))
    return PlanRef(f"{plan_type.value}-{year}-{draw(st.integers(1, 2))}", plan_type, year)


@st.composite
def member_events(draw: st.DrawFn, member_id: str) -> list[MemberEvent]:
    state = draw(st.sampled_from(STATES))
    out: list[MemberEvent] = []
    for k in range(draw(st.integers(1, 5))):
        # Usually the member starts with an enrollment by an agent early in the year, so
        # that later changes have an original agent to keep, transfer or release.
        opening = k == 0 and draw(st.integers(0, 4)) > 0
        day = draw(st.integers(0, 60) if opening else st.integers(0, 300))
        occurred = _instant(day, draw(st.sampled_from((0, 12))))
        recorded = occurred + timedelta(days=draw(st.sampled_from((0, 0, 0, 1, 20, 60))))
        plan = draw(plans())
        effective = date(plan.plan_year, draw(st.integers(1, 12)), 1)
        event_id = f"{member_id}-e{k}"
        if opening or draw(st.booleans()):
            writer = st.sampled_from(AGENT_IDS) if opening else st.none() | st.sampled_from(POOL)
            out.append(Enrollment(
                event_id=event_id, occurred_at=occurred, recorded_at=recorded,
                member_id=member_id, member_state=state, plan=plan, effective_date=effective,
                writing_agent_id=draw(writer),
            ))
        else:
            channel = draw(st.sampled_from(tuple(Channel)))
            facilitator = draw(st.sampled_from(POOL) if channel in FACILITATED_CHANNELS
                               else st.none() | st.sampled_from(POOL))
            out.append(PlanChange(
                event_id=event_id, occurred_at=occurred, recorded_at=recorded,
                member_id=member_id, member_state=state,
                from_plan=draw(st.none() | plans()), to_plan=plan, effective_date=effective,
                channel=channel, facilitating_agent_id=facilitator,
            ))
    return out


@st.composite
def worlds(draw: st.DrawFn) -> list[Input]:
    inputs: list[Input] = []
    for agent_id in AGENT_IDS:
        snapshots = draw(agent_snapshots(agent_id))
        inputs.extend(snapshots)
        # Sometimes a redelivery of an identical snapshot.
        if draw(st.integers(0, 4)) == 0:
            inputs.append(draw(st.sampled_from(snapshots)))
    for m in range(draw(st.integers(1, 3))):
        events = draw(member_events(f"M{m}"))
        inputs.extend(events)
        # Sometimes a redelivery of an identical event (a duplicate, never a conflict).
        if draw(st.integers(0, 4)) == 0:
            inputs.append(draw(st.sampled_from(events)))
    return inputs


def replay_key(item: Input) -> tuple[datetime, int, str]:
    """The file replay's arrival order: recorded_at, snapshots first on ties, then id."""
    if isinstance(item, AgentStatusSnapshot):
        return (item.recorded_at, 0, item.snapshot_id)
    return (item.recorded_at, 1, item.event_id)


@dataclass
class Run:
    engine: Engine
    decisions: list[Decision]


def run(inputs: Sequence[Input], *, settle_later: bool,
        policy: PolicySettings = SETTINGS) -> Run:
    engine = Engine(policy)
    decisions: list[Decision] = []
    for item in inputs:
        if isinstance(item, AgentStatusSnapshot):
            result = engine.on_snapshot(item, settle_later=settle_later)
        else:
            result = engine.on_event(item, settle_later=settle_later)
        assert result.rejection is None, result.rejection
        decisions.extend(result.decisions)
    return Run(engine, decisions)


def full_table(inputs: Sequence[Input]) -> AgentTable:
    table = AgentTable()
    for item in inputs:
        if isinstance(item, AgentStatusSnapshot):
            table.add(item)
    return table


def replayed(inputs: Sequence[Input], policy: PolicySettings = SETTINGS) -> Run:
    return run(sorted(inputs, key=replay_key), settle_later=False, policy=policy)


# ---------------------------------------------------------------- (a) the AOR is eligible


def _used_snapshot(a: AorAssignment, agent_id: str) -> str | None:
    found = [c for c in a.rule_trace if c.rule == "SNAPSHOT_FOUND" and c.agent_id == agent_id]
    assert len(found) == 1, (agent_id, a.rule_trace)
    return found[0].snapshot_id


def _qualifies(s: AgentStatusSnapshot, a: AorAssignment) -> bool:
    return (s.affiliation.is_external and s.status is AgentStatus.ACTIVE
            and a.member_state in s.licensed_states and a.member_state in s.appointed_states
            and a.plan.plan_year in s.certified_plan_years)


def _in_force_as_of_decision(table: AgentTable, agent_id: str, a: AorAssignment,
                             ) -> set[str | None]:
    """Snapshots in force at occurred_at for any horizon at instant decided_as_of (a
    snapshot correction's horizon stops at the snapshot's own id on that instant)."""
    cuts = ["", ALL_IDS, *(s.snapshot_id for s in table.snapshots_of(agent_id)
                          if s.recorded_at == a.decided_as_of)]
    found = set()
    for cut in cuts:
        s = table.in_force(agent_id, a.occurred_at, (a.decided_as_of, cut))
        found.add(s.snapshot_id if s else None)
    return found


def _check_aor_eligible(decisions: list[Decision], table: AgentTable, *,
                        exact_horizon: bool) -> None:
    for d in decisions:
        a = d.assignment
        aor = a.agent_of_record_id
        if aor is None:
            continue
        sid = _used_snapshot(a, aor)
        assert sid is not None, f"{a.source_event_id}: AOR {aor} without a snapshot"
        snap = table.get(sid)
        assert snap is not None and snap.agent_id == aor
        assert _qualifies(snap, a), (
            f"{a.source_event_id} rev {a.revision} row {policy_row(a.rule_trace)}: "
            f"AOR {aor} is not an eligible external agent per {snap}")
        if exact_horizon:
            assert sid in _in_force_as_of_decision(table, aor, a), (
                f"{a.source_event_id}: {sid} is not in force as of the decision's horizon")


@PROFILE
@given(worlds())
def test_no_decision_makes_an_ineligible_or_internal_agent_the_aor(inputs: list[Input]) -> None:
    table = full_table(inputs)
    replay = replayed(inputs)
    _check_aor_eligible(replay.decisions, table, exact_horizon=True)


@PROFILE
@given(worlds(), st.data())
def test_no_decision_out_of_order_makes_an_ineligible_agent_the_aor(
        inputs: list[Input], data: st.DataObject) -> None:
    """Out of order, a decision may rest on a table that lacks snapshots recorded before
    its horizon (they arrive later and correct it); the snapshot it used must qualify."""
    arrival = data.draw(st.permutations(inputs), label="arrival order")
    out = run(arrival, settle_later=True)
    _check_aor_eligible(out.decisions, full_table(inputs), exact_horizon=False)


# ----------------------------------------------------- (b) the trace holds what was used

F_ROWS = {"E2", "E3", "E4", "1", "7", "8", "9", "10", "S2", "S3"}


def _check_traces(decisions: list[Decision]) -> None:
    for d in decisions:
        a = d.assignment
        trace = a.rule_trace
        assert trace, a
        assert sum(c.rule == "POLICY_ROW" for c in trace) == 1
        row = policy_row(trace)
        relied_on = {x for x in (a.previous_agent_id, a.agent_of_record_id) if x}
        f = a.facilitating_agent_id
        # F is looked at when it may take the AOR or is judged for review; an
        # enrollment always looks at its writing agent (external or not decides E1/E2).
        if f is not None and (row in F_ROWS or a.requires_review
                              or a.source_event_type is EventType.ENROLLMENT):
            relied_on.add(f)
        for agent_id in relied_on:
            assert traces_all_five(trace, agent_id), (row, agent_id, trace)
        # Every traced check belongs to a complete block of five.
        for traced in {c.agent_id for c in trace if c.rule in CHECKS}:
            assert traced is not None and traces_all_five(trace, traced)


@PROFILE
@given(worlds())
def test_every_decision_traces_every_check_it_relied_on(inputs: list[Input]) -> None:
    _check_traces(replayed(inputs).decisions)


# ------------------------------------------------------------- (c) order independence


def _net(decisions: list[Decision]) -> dict[str, Decimal]:
    """Sum of every emitted amount per member (None as 0); members netting 0 omitted."""
    net: dict[str, Decimal] = defaultdict(Decimal)
    for d in decisions:
        for adj in d.adjustments:
            net[adj.member_id] += adj.amount or Decimal(0)
    return {m: v for m, v in net.items() if v}


def _net_by_agent(decisions: list[Decision]) -> dict[tuple[str, str, str], Decimal]:
    net: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for d in decisions:
        for adj in d.adjustments:
            net[adj.member_id, adj.agent_id, adj.plan.plan_id] += adj.amount or Decimal(0)
    return {k: v for k, v in net.items() if v}


def _standing(engine: Engine) -> dict[str, tuple[object, ...]]:
    """Each event's latest revision: outcome, reason, AOR, review, adjustments stood by."""
    return {
        e.event.event_id: (e.outcome, e.reason, e.agent_of_record_id, e.requires_review,
                           sorted(str(k) for k in map(comparison_key, e.adjustments)))
        for state in engine.members.values() for e in state.history
    }


def _final_aor(engine: Engine) -> dict[str, str | None]:
    return {m: s.agent_of_record_id for m, s in engine.members.items()}


@PROFILE
@given(worlds(), st.data())
def test_outputs_do_not_depend_on_arrival_order(inputs: list[Input], data: st.DataObject,
                                                ) -> None:
    """File-replay order against any arrival order: the same final AOR per member, the
    same net amount per member (and per agent and plan), the same standing decisions."""
    policy = data.draw(st.sampled_from(WHAT_IF), label="policy settings")
    replay = replayed(inputs, policy)
    arrival = data.draw(st.permutations(inputs), label="arrival order")
    shuffled = run(arrival, settle_later=True, policy=policy)
    _check_traces(shuffled.decisions)
    assert _final_aor(shuffled.engine) == _final_aor(replay.engine)
    assert _net(shuffled.decisions) == _net(replay.decisions)
    assert _net_by_agent(shuffled.decisions) == _net_by_agent(replay.decisions)
    assert _standing(shuffled.engine) == _standing(replay.engine)


@PROFILE
@given(worlds(), st.data())
def test_every_input_again_emits_nothing(inputs: list[Input], data: st.DataObject) -> None:
    """Corrections are idempotent: redelivering any input, in any order, changes nothing."""
    replay = replayed(inputs)
    standing = _standing(replay.engine)
    for item in data.draw(st.permutations(inputs), label="redelivery order"):
        if isinstance(item, AgentStatusSnapshot):
            result = replay.engine.on_snapshot(item, settle_later=True)
        else:
            result = replay.engine.on_event(item, settle_later=True)
        assert result.decisions == () and result.rejection is None and result.duplicate
    assert _standing(replay.engine) == standing


# ------------------------------------------------------- (d) what is paid never exceeds a year


@st.composite
def monotone_member_events(draw: st.DrawFn, member_id: str) -> list[MemberEvent]:
    """A member whose effective dates do not decrease in history order (second elections
    included: equal dates), from January 2025 to December 2026, recorded on time or late."""
    state = draw(st.sampled_from(STATES))
    count = draw(st.integers(1, 5))
    months = sorted(draw(st.lists(st.integers(0, 23), min_size=count, max_size=count)))
    out: list[MemberEvent] = []
    for k, month in enumerate(months):
        effective = date(2025 + month // 12, month % 12 + 1, 1)
        plan_type = draw(st.sampled_from(tuple(PlanType)))
        plan = PlanRef(f"{plan_type.value}-{effective.year}-{draw(st.integers(1, 2))}",
                       plan_type, effective.year)
        # History order is effective order: k hours apart, before the effective date.
        occurred = datetime(effective.year, effective.month, 1, tzinfo=UTC) - timedelta(
            days=20) + timedelta(hours=k)
        recorded = occurred + timedelta(days=draw(st.sampled_from((0, 0, 0, 1, 20, 90))))
        event_id = f"{member_id}-e{k}"
        if (k == 0 and draw(st.integers(0, 4)) > 0) or draw(st.integers(0, 5)) == 0:
            out.append(Enrollment(
                event_id=event_id, occurred_at=occurred, recorded_at=recorded,
                member_id=member_id, member_state=state, plan=plan, effective_date=effective,
                writing_agent_id=draw(st.sampled_from(AGENT_IDS) if k == 0
                                      else st.none() | st.sampled_from(POOL))))
        else:
            channel = draw(st.sampled_from(tuple(Channel)))
            out.append(PlanChange(
                event_id=event_id, occurred_at=occurred, recorded_at=recorded,
                member_id=member_id, member_state=state,
                from_plan=draw(st.none() | plans()), to_plan=plan, effective_date=effective,
                channel=channel,
                facilitating_agent_id=draw(st.sampled_from(POOL)
                                           if channel in FACILITATED_CHANNELS
                                           else st.none() | st.sampled_from(POOL))))
    return out


@st.composite
def monotone_worlds(draw: st.DrawFn) -> list[Input]:
    inputs: list[Input] = []
    for agent_id in AGENT_IDS:
        inputs.extend(draw(agent_snapshots(agent_id)))
    for m in range(draw(st.integers(1, 3))):
        inputs.extend(draw(monotone_member_events(f"M{m}")))
    return inputs


def _check_net_within_a_year(decisions: list[Decision]) -> None:
    net: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    largest: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for d in decisions:
        for adj in d.adjustments:
            key = (adj.member_id, adj.agent_id, adj.plan.plan_year)
            net[key] += adj.amount or Decimal(0)
            if adj.kind.value == "START" and adj.annual_amount is not None:
                largest[key] = max(largest[key], adj.annual_amount)
    over = {k: (v, largest[k]) for k, v in net.items() if v > largest[k]}
    assert not over, f"net above the largest annual amount: {over}"


@PROFILE
@given(monotone_worlds(), st.data())
def test_net_per_member_agent_and_plan_year_never_exceeds_a_years_compensation(
        inputs: list[Input], data: st.DataObject) -> None:
    """Recoveries (rapid disenrollment, months not enrolled) and reversals keep what an
    agent nets for a member and plan year within the largest annual amount among that
    agent's STARTs there, in replay order and in any arrival order."""
    _check_net_within_a_year(replayed(inputs).decisions)
    arrival = data.draw(st.permutations(inputs), label="arrival order")
    _check_net_within_a_year(run(arrival, settle_later=True).decisions)


# ----------------------------------------------- (e) a re-decision equals a fresh replay

# Other rules stand-ins: a history decided under one of these is re-decided under another.
RULE_SETS = (
    SETTINGS,
    PolicySettings(name="facilitator-keeps-out", facilitator_takes_aor=False),
    PolicySettings(name="unprotected-telesales",
                   protected_channels=INTERNAL_CHANNELS - {Channel.INTERNAL_TELESALES}),
)


@PROFILE
@given(worlds(), st.data())
def test_redeciding_under_new_rules_ends_where_a_fresh_replay_does(
        inputs: list[Input], data: st.DataObject) -> None:
    """A history decided under old rules and re-decided from its start under new ones
    (`redecide`) stands, event by event, where a fresh replay under the new rules does;
    with a correction window short enough to leave some snapshots outside it too. As for
    arrival order (contract.md), events must arrive within the window: an event inserted
    before decisions the window no longer reaches leaves them folded without it."""
    window = data.draw(st.sampled_from((731, 40, 20)), label="correction window")
    assume(all(item.recorded_at - item.occurred_at <= timedelta(days=window)
               for item in inputs if not isinstance(item, AgentStatusSnapshot)))
    old, new = (replace(data.draw(st.sampled_from(RULE_SETS), label=label),
                        correction_window_days=window) for label in ("old", "new"))
    decided = replayed(inputs, old)
    fresh = replayed(inputs, new)
    engine = Engine(new, agents=decided.engine.agents, members=decided.engine.members)
    known = max(s.recorded_at for s in inputs if isinstance(s, AgentStatusSnapshot))
    superseding = [d for member_id in sorted(engine.members)
                   for d in engine.redecide(member_id, datetime.min.replace(tzinfo=UTC),
                                            (known, ALL_IDS))]
    assert _standing(engine) == _standing(fresh.engine)
    assert _final_aor(engine) == _final_aor(fresh.engine)
    # What was emitted, the superseding decisions included, nets to the fresh replay.
    assert _net(decided.decisions + superseding) == _net(fresh.decisions)
    for d in superseding:
        assert d.assignment.revision > 0 and d.assignment.supersedes_decision_id
    # Idempotent: the same rules again supersede nothing.
    assert not [d for m in sorted(engine.members)
                for d in engine.redecide(m, datetime.min.replace(tzinfo=UTC), (known, ALL_IDS))]
