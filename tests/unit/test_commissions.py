"""Commission adjustments: worked amounts, regions, rounding, kinds, second elections, ids."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from processor.domain import ids
from processor.domain.commissions import basis_for, prorate
from processor.domain.engine import Engine
from processor.domain.model import (
    AdjustmentKind,
    AgentStatus,
    Basis,
    Channel,
    CommissionAdjustment,
    Decision,
    MemberEvent,
    Outcome,
    PlanRef,
    PlanType,
)
from processor.domain.schedule import DEFAULT_SCHEDULE, Rates, RateSchedule, Region, region_of
from processor.domain.settings import PolicySettings
from tests.builders import (
    MA2_26,
    MA_25,
    MA_26,
    MAPD_26,
    PDP2_26,
    PDP_25,
    PDP_26,
    at,
    enrollment,
    plan_change,
    snapshot,
)

DEFAULT = PolicySettings()
DPCL = Channel.DEDICATED_PLAN_CHANGE_LINE
START, STOP, REVERSAL = AdjustmentKind.START, AdjustmentKind.STOP, AdjustmentKind.REVERSAL
INITIAL, RENEWAL = Basis.INITIAL, Basis.RENEWAL
D = Decimal


def engine(settings: PolicySettings = DEFAULT) -> Engine:
    """An engine holding the cast: A, B external and eligible, TERM terminated."""
    e = Engine(settings)
    since = at(-1000)
    for s in (snapshot("A", effective=since), snapshot("B", effective=since),
              snapshot("CC", effective=since),
              snapshot("TERM", effective=since, status=AgentStatus.TERMINATED)):
        e.on_snapshot(s)
    return e


def decide(e: Engine, event: MemberEvent) -> Decision:
    result = e.on_event(event)
    assert result.rejection is None and len(result.decisions) == 1, result
    return result.decisions[0]


def shape(adjs: tuple[CommissionAdjustment, ...]) -> list[tuple[object, ...]]:
    """(kind, agent, plan id, basis, effective date, amount) of each adjustment."""
    return [(a.kind, a.agent_id, a.plan.plan_id, a.basis, a.effective_date, a.amount)
            for a in adjs]


# ------------------------------------------------------------------- worked amounts


def test_like_ma_change_effective_february_pays_renewal_and_stops_the_old_plan() -> None:
    """policy.md: initial enrollment year 2025, a like change effective 2026-02-01 into a
    national MA plan pays 11/12 x 347.00 = 318.08. The STOP is dated after the 2025 START's
    plan year, so it recovers nothing and carries no amounts."""
    e = engine()
    first = decide(e, enrollment(plan=MA_25, effective=date(2025, 1, 1), writing="A",
                                 occurred=at(-320)))
    assert shape(first.adjustments) == [(START, "A", MA_25.plan_id, INITIAL, date(2025, 1, 1),
                                         D("626.00"))]
    change = decide(e, plan_change(channel=DPCL, to_plan=MAPD_26, effective=date(2026, 2, 1),
                                   occurred=at(80)))
    assert change.assignment.outcome is Outcome.RETAINED
    stop, start = change.adjustments
    assert (stop.kind, stop.agent_id, stop.plan, stop.effective_date) == (
        STOP, "A", MA_25, date(2026, 1, 31))
    assert (stop.basis, stop.months, stop.annual_amount, stop.amount, stop.schedule_region) == (
        None, None, None, None, None)
    assert (start.kind, start.agent_id, start.plan, start.basis, start.effective_date) == (
        START, "A", MAPD_26, RENEWAL, date(2026, 2, 1))
    assert (start.months, start.annual_amount, start.amount, start.schedule_region) == (
        11, D("347"), D("318.08"), "NATIONAL")


UNLIKE = [
    ("MA-to-PDP", MA_26, PDP_26, INITIAL, D("104.50")),  # 114 * 11/12
    ("PDP-to-MA", PDP_26, MA2_26, INITIAL, D("636.17")),  # 694 * 11/12 = 636.166..
    ("MAPD-to-PDP", MAPD_26, PDP_26, INITIAL, D("104.50")),
    ("MA-to-MAPD", MA_26, MAPD_26, RENEWAL, D("318.08")),  # 347 * 11/12 = 318.083..
    ("MAPD-to-MA", MAPD_26, MA_26, RENEWAL, D("318.08")),
    ("PDP-to-PDP", PDP_26, PDP2_26, RENEWAL, D("52.25")),  # 57 * 11/12
]


@pytest.mark.parametrize(("name", "old", "new", "basis", "amount"), UNLIKE,
                         ids=[u[0] for u in UNLIKE])
def test_like_or_unlike_plan_type(name: str, old: PlanRef, new: PlanRef, basis: Basis,
                                  amount: Decimal) -> None:
    e = engine()
    # Enrolled in 2025 (the initial enrollment year), so a like change into 2026 renews.
    old_25 = PlanRef(old.plan_id, old.plan_type, 2025)
    decide(e, enrollment(plan=old_25, effective=date(2025, 1, 1), writing="A",
                         occurred=at(-320)))
    change = decide(e, plan_change(channel=DPCL, to_plan=new, effective=date(2026, 2, 1),
                                   occurred=at(80)))
    start = change.adjustments[-1]
    assert (start.kind, start.basis, start.amount) == (START, basis, amount)


@pytest.mark.parametrize(("effective", "months", "amount"), [
    (date(2026, 1, 1), 12, D("694.00")),
    (date(2026, 4, 1), 9, D("520.50")),
    (date(2026, 12, 1), 1, D("57.83")),  # 694/12 = 57.833..
])
def test_new_member_pays_initial_prorated(effective: date, months: int, amount: Decimal,
                                          ) -> None:
    start, = decide(engine(), enrollment(effective=effective, writing="A")).adjustments
    assert (start.kind, start.basis, start.months, start.amount) == (
        START, INITIAL, months, amount)


@pytest.mark.parametrize(("from_plan", "basis", "amount"), [
    (MA_25, RENEWAL, D("347.00")),  # like: MA -> MAPD
    (PDP_25, INITIAL, D("694.00")),  # unlike: PDP -> MAPD
    (None, INITIAL, D("694.00")),  # no prior plan known at all
], ids=["from-plan-like", "from-plan-unlike", "no-from-plan"])
def test_from_plan_is_the_prior_plan_of_an_unknown_member(
        from_plan: PlanRef | None, basis: Basis, amount: Decimal) -> None:
    d = decide(engine(), plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B",
                                     from_plan=from_plan, to_plan=MAPD_26))
    assert d.assignment.outcome is Outcome.ASSIGNED
    start, = d.adjustments  # no AOR before: no STOP
    assert (start.agent_id, start.basis, start.amount) == ("B", basis, amount)


def test_member_state_beats_from_plan() -> None:
    """The processor's current plan is the prior plan even when from_plan says otherwise."""
    e = engine()
    decide(e, enrollment(plan=PDP_26, writing="A"))
    change = decide(e, plan_change(channel=DPCL, from_plan=MA_25, to_plan=MA_26,
                                   effective=date(2026, 2, 1), occurred=at(80)))
    assert change.adjustments[-1].basis is INITIAL


@pytest.mark.parametrize(("plan", "effective", "basis", "amount"), [
    # The house enrollment made 2026 the initial enrollment year: INITIAL, 694 * 10/12.
    (MA_26, date(2026, 1, 1), INITIAL, D("578.33")),
    # Initial enrollment year 2025: a like change into 2026 renews, 347 * 10/12.
    (MA_25, date(2025, 1, 1), RENEWAL, D("289.17")),
], ids=["in-the-initial-year", "after-it"])
def test_house_account_assignment_follows_the_same_rule(plan: PlanRef, effective: date,
                                                        basis: Basis, amount: Decimal) -> None:
    e = engine()
    decide(e, enrollment(plan=plan, effective=effective, writing=None,
                         occurred=at(-320)))  # E2: house
    d = decide(e, plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B",
                              to_plan=MAPD_26, effective=date(2026, 3, 1), occurred=at(100)))
    assert d.assignment.outcome is Outcome.ASSIGNED
    assert shape(d.adjustments) == [(START, "B", MAPD_26.plan_id, basis, date(2026, 3, 1),
                                     amount)]


# -------------------------------------------------------------------------- regions

REGIONS = [
    ("CT", Region.CT_PA_DC), ("PA", Region.CT_PA_DC), ("DC", Region.CT_PA_DC),
    ("CA", Region.CA_NJ), ("NJ", Region.CA_NJ), ("PR", Region.PR_VI), ("VI", Region.PR_VI),
    ("FL", Region.NATIONAL), ("NY", Region.NATIONAL), ("GU", Region.NATIONAL),
    ("AK", Region.NATIONAL),
]


@pytest.mark.parametrize(("state", "region"), REGIONS, ids=[s for s, _ in REGIONS])
def test_region_of_member_state(state: str, region: Region) -> None:
    assert region_of(state) is region


def _plan(plan_type: PlanType, year: int) -> PlanRef:
    return PlanRef(f"{plan_type.value}-{year}", plan_type, year)


AMOUNTS = [
    # state, plan, effective, annual, amount
    ("CT", _plan(PlanType.MA, 2026), date(2026, 1, 1), D("781"), D("781.00")),
    ("PA", _plan(PlanType.MAPD, 2025), date(2025, 7, 1), D("705"), D("352.50")),
    ("DC", _plan(PlanType.PDP, 2024), date(2024, 1, 1), D("100"), D("100.00")),
    ("CA", _plan(PlanType.MA, 2025), date(2025, 3, 1), D("780"), D("650.00")),
    ("NJ", _plan(PlanType.MA, 2026), date(2026, 11, 1), D("864"), D("144.00")),
    ("PR", _plan(PlanType.MA, 2024), date(2024, 4, 1), D("418"), D("313.50")),
    ("VI", _plan(PlanType.PDP, 2026), date(2026, 2, 1), D("114"), D("104.50")),
    ("TX", _plan(PlanType.MA, 2025), date(2025, 3, 1), D("626"), D("521.67")),
    ("FL", _plan(PlanType.PDP, 2025), date(2025, 6, 1), D("109"), D("63.58")),
]


@pytest.mark.parametrize(("state", "plan", "effective", "annual", "amount"), AMOUNTS,
                         ids=[f"{a[0]}-{a[1].plan_id}-{a[2]:%m}" for a in AMOUNTS])
def test_initial_amount_by_region(state: str, plan: PlanRef, effective: date, annual: Decimal,
                                  amount: Decimal) -> None:
    start, = decide(engine(), enrollment(state=state, plan=plan, effective=effective,
                                         writing="A", occurred=at(-700))).adjustments
    assert (start.basis, start.annual_amount, start.amount) == (INITIAL, annual, amount)
    assert start.schedule_region == region_of(state).value


def test_renewal_values_are_the_published_ones_not_half_the_initial() -> None:
    # 2026 CT/PA/DC: initial 781, renewal 391 (half would be 390.50).
    rates = DEFAULT_SCHEDULE.rates_for(2026, Region.CT_PA_DC)
    assert rates.annual(PlanType.MA, RENEWAL) == D("391")
    assert DEFAULT_SCHEDULE.rates_for(2025, Region.NATIONAL).annual(PlanType.PDP, RENEWAL) == 55


# ------------------------------------------------------------------------- rounding


def _cents_schedule() -> RateSchedule:
    rates = Rates(D("50.50"), D("50.50"), D("50.50"), D("50.50"))
    return RateSchedule("cents", tuple((2026, r, rates) for r in Region))


def test_half_up_rounding_with_a_schedule_in_cents() -> None:
    settings = PolicySettings(schedule=_cents_schedule())
    d = decide(engine(settings), enrollment(effective=date(2026, 10, 1), writing="A"))
    start, = d.adjustments
    assert (start.months, start.annual_amount, start.amount) == (3, D("50.50"), D("12.63"))
    # 50.50 * 3 / 12 = 12.625: half-even would give 12.62.
    assert D("12.625").quantize(D("0.01")) == D("12.62")
    assert start.policy_version == settings.policy_version != DEFAULT.policy_version


@pytest.mark.parametrize(("annual", "month", "months", "amount"), [
    (D("50.50"), 10, 3, D("12.63")),
    (D("347"), 2, 11, D("318.08")),
    (D("0.06"), 7, 6, D("0.03")),
    (D("0.05"), 7, 6, D("0.03")),  # 0.025 -> 0.03
    (D("100"), 1, 12, D("100.00")),
])
def test_prorate(annual: Decimal, month: int, months: int, amount: Decimal) -> None:
    assert prorate(annual, date(2026, month, 1)) == (months, amount)


def test_basis_for() -> None:
    assert basis_for(MA_26, None) is INITIAL
    assert basis_for(MA_26, MAPD_26) is RENEWAL
    assert basis_for(PDP_26, MA_26) is INITIAL
    assert basis_for(PDP_26, PDP_25) is RENEWAL


# ---------------------------------------------------------------- kinds per outcome


def _member_of_a(e: Engine) -> None:
    decide(e, enrollment(plan=MA_25, effective=date(2025, 1, 1), writing="A",
                         occurred=at(-320)))


KINDS = [
    # id, the change, outcome, adjustments as (kind, agent)
    ("RETAINED-stop-and-start-same-agent", plan_change(channel=DPCL, to_plan=MA_26),
     Outcome.RETAINED, [(STOP, "A"), (START, "A")]),
    ("TRANSFERRED-stop-old-start-new",
     plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B", to_plan=MA_26),
     Outcome.TRANSFERRED, [(STOP, "A"), (START, "B")]),
    ("TRANSFERRED-call-center",
     plan_change(channel=Channel.EXTERNAL_CALL_CENTER, facilitator="CC", to_plan=MA_26),
     Outcome.TRANSFERRED, [(STOP, "A"), (START, "CC")]),
]


@pytest.mark.parametrize(("name", "event", "outcome", "kinds"), KINDS, ids=[k[0] for k in KINDS])
def test_adjustment_kinds(name: str, event: MemberEvent, outcome: Outcome,
                          kinds: list[tuple[AdjustmentKind, str]]) -> None:
    e = engine()
    _member_of_a(e)
    d = decide(e, event)
    assert d.assignment.outcome is outcome
    assert [(a.kind, a.agent_id) for a in d.adjustments] == kinds
    stop, start = d.adjustments
    assert (stop.plan, stop.effective_date, stop.amount) == (MA_25, date(2025, 12, 31), None)
    assert (start.plan, start.basis, start.amount) == (MA_26, RENEWAL, D("347.00"))


def test_released_gives_a_stop_and_no_start() -> None:
    e = engine()
    decide(e, enrollment(plan=MA_25, effective=date(2025, 1, 1), writing="A",
                         occurred=at(-320)))
    e.on_snapshot(snapshot("A", snapshot_id="A-term", effective=at(-10),
                           status=AgentStatus.TERMINATED))
    d = decide(e, plan_change(channel=DPCL, to_plan=MA_26))
    assert d.assignment.outcome is Outcome.RELEASED
    assert shape(d.adjustments) == [(STOP, "A", MA_25.plan_id, None, date(2025, 12, 31), None)]


def test_house_gives_no_adjustments() -> None:
    e = engine()
    d = decide(e, enrollment(writing="TERM"))  # E4
    assert d.assignment.outcome is Outcome.HOUSE and d.adjustments == ()
    d = decide(e, plan_change(channel=DPCL, to_plan=MAPD_26, effective=date(2026, 2, 1),
                              occurred=at(80)))  # row 2
    assert d.assignment.outcome is Outcome.HOUSE and d.adjustments == ()


# -------------------------------------------------- a second election in the same period


def test_second_election_reverses_the_start_instead_of_a_stop() -> None:
    """A new member's AEP enrollment, then a change of mind for the same Jan 1."""
    e = engine()
    first = decide(e, enrollment(plan=MA_26, effective=date(2026, 1, 1), writing="A"))
    first_start, = first.adjustments
    second = decide(e, plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B",
                                   to_plan=PDP_26, effective=date(2026, 1, 1),
                                   occurred=at(20)))
    assert second.assignment.outcome is Outcome.TRANSFERRED
    reversal, start = second.adjustments
    assert reversal.kind is REVERSAL
    assert reversal.reverses_adjustment_id == first_start.adjustment_id
    assert (reversal.agent_id, reversal.plan, reversal.amount) == ("A", MA_26, D("-694.00"))
    # Judged against the plan before MA_26: none, so INITIAL.
    assert (start.kind, start.agent_id, start.basis, start.amount) == (
        START, "B", INITIAL, D("114.00"))
    assert all(a.kind is not STOP for a in second.adjustments)


def test_second_and_third_election_judge_like_unlike_against_the_plan_before() -> None:
    e = engine()
    decide(e, enrollment(plan=MA_25, effective=date(2025, 1, 1), writing="A",
                         occurred=at(-320)))
    # AEP: MA 2025 -> PDP 2026 (unlike, INITIAL), STOP on the 2025 plan.
    aep = decide(e, plan_change(channel=DPCL, to_plan=PDP_26, occurred=at(0)))
    assert shape(aep.adjustments) == [
        (STOP, "A", MA_25.plan_id, None, date(2025, 12, 31), None),
        (START, "A", PDP_26.plan_id, INITIAL, date(2026, 1, 1), D("114.00")),
    ]
    # Change of mind, same Jan 1: PDP never took effect. Reverse its START; MA_25 -> MA is
    # like, so RENEWAL; no second STOP.
    second = decide(e, plan_change("chg-2", channel=DPCL, to_plan=MA_26, occurred=at(10)))
    assert second.assignment.outcome is Outcome.RETAINED
    assert shape(second.adjustments) == [
        (REVERSAL, "A", PDP_26.plan_id, INITIAL, date(2026, 1, 1), D("-114.00")),
        (START, "A", MA_26.plan_id, RENEWAL, date(2026, 1, 1), D("347.00")),
    ]
    assert second.adjustments[0].reverses_adjustment_id == aep.adjustments[1].adjustment_id
    # A third election, through another agent: reverse the second START; still judged
    # against MA_25, so PDP is INITIAL.
    third = decide(e, plan_change("chg-3", channel=Channel.AGENT_APPLICATION, facilitator="B",
                                  to_plan=PDP2_26, occurred=at(20)))
    assert third.assignment.outcome is Outcome.TRANSFERRED
    assert shape(third.adjustments) == [
        (REVERSAL, "A", MA_26.plan_id, RENEWAL, date(2026, 1, 1), D("-347.00")),
        (START, "B", PDP2_26.plan_id, INITIAL, date(2026, 1, 1), D("114.00")),
    ]
    assert third.adjustments[0].reverses_adjustment_id == second.adjustments[1].adjustment_id
    trace = {c.rule: c for c in third.assignment.rule_trace}
    assert trace["SECOND_ELECTION"].passed and not trace["LIKE_PLAN_TYPE"].passed


def test_a_later_effective_date_is_not_a_second_election() -> None:
    e = engine()
    decide(e, enrollment(plan=MA_26, effective=date(2026, 1, 1), writing="A"))
    d = decide(e, plan_change(channel=DPCL, to_plan=MAPD_26, effective=date(2026, 2, 1),
                              occurred=at(80)))
    assert [a.kind for a in d.adjustments] == [STOP, START]
    assert not {c.rule: c for c in d.assignment.rule_trace}["SECOND_ELECTION"].passed


def test_second_election_from_the_house_reverses_nothing() -> None:
    e = engine()
    decide(e, enrollment(plan=MA_26, writing=None))
    d = decide(e, plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B",
                              to_plan=MAPD_26, occurred=at(20)))
    assert shape(d.adjustments) == [(START, "B", MAPD_26.plan_id, INITIAL, date(2026, 1, 1),
                                     D("694.00"))]


# ------------------------------------------------------------------ ids and versions

NS = uuid.uuid5(uuid.NAMESPACE_DNS, "aor.v1")


def test_decision_and_adjustment_ids_are_uuid5_of_the_contract() -> None:
    e = engine()
    _member_of_a(e)
    d = decide(e, plan_change("chg-42", channel=Channel.AGENT_APPLICATION, facilitator="B",
                              to_plan=MA_26))
    a = d.assignment
    assert a.decision_id == str(uuid.uuid5(NS, "decision/chg-42/0"))
    assert a.decision_id == ids.decision_id("chg-42", 0)
    assert a.revision == 0 and a.supersedes_decision_id is None
    for index, adj in enumerate(d.adjustments):
        assert adj.adjustment_id == str(uuid.uuid5(NS, f"adjustment/{a.decision_id}/{index}"))
        assert adj.decision_id == a.decision_id and adj.member_id == "M1"
    assert len({adj.adjustment_id for adj in d.adjustments}) == 2


@pytest.mark.parametrize("settings", [
    DEFAULT,
    PolicySettings(name="what-if", facilitator_takes_aor=False),
    PolicySettings(schedule=_cents_schedule()),
], ids=["default", "what-if", "cents-schedule"])
def test_policy_version_on_every_output(settings: PolicySettings) -> None:
    e = engine(settings)
    decisions = [decide(e, enrollment(plan=MA_26, writing="A")),
                 decide(e, plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B",
                                       to_plan=MAPD_26, effective=date(2026, 3, 1),
                                       occurred=at(90)))]
    for d in decisions:
        assert d.assignment.policy_version == settings.policy_version
        assert d.adjustments
        assert all(a.policy_version == settings.policy_version for a in d.adjustments)
    assert settings.policy_version.startswith(settings.name + "+")


def test_policy_version_differs_between_settings() -> None:
    versions = {PolicySettings().policy_version,
                PolicySettings(facilitator_takes_aor=False).policy_version,
                PolicySettings(correction_window_days=30).policy_version,
                PolicySettings(schedule=_cents_schedule()).policy_version}
    assert len(versions) == 4
    assert PolicySettings().policy_version == PolicySettings().policy_version
