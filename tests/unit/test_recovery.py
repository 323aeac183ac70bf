"""Rules revision 2 (issue 11): STOPs that recover compensation, and the initial enrollment
year. One row per rule and boundary of policy.md, each through the real Engine.

Rapid disenrollment: a change effective no later than three months after the START being
stopped recovers the whole START, except an October-December START changed effective
January 1 (the AEP exception). Otherwise a STOP dated within the START's plan year before
December recovers the months after it. A second election comes before both.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from processor.domain.commissions import recovery
from processor.domain.engine import Engine
from processor.domain.member import MemberState
from processor.domain.model import (
    AdjustmentKind,
    Basis,
    Channel,
    CommissionAdjustment,
    Decision,
    MemberEvent,
    PlanRef,
    PlanType,
    RuleCheck,
)
from processor.domain.policy import INITIAL_YEAR_NOT_RECORDED
from processor.domain.settings import RULES_REVISION, PolicySettings
from tests.builders import MA_25, MA_26, MAPD_26, PDP_26, T0, enrollment, plan_change, snapshot

D = Decimal
DPCL = Channel.DEDICATED_PLAN_CHANGE_LINE
START, STOP, REVERSAL = AdjustmentKind.START, AdjustmentKind.STOP, AdjustmentKind.REVERSAL
INITIAL, RENEWAL = Basis.INITIAL, Basis.RENEWAL
MA_24 = PlanRef("H1000-001-24", PlanType.MA, 2024)


def on(day: date) -> datetime:
    """A moment of a day, for events that occur on it."""
    return T0.replace(year=day.year, month=day.month, day=day.day)


def engine(settings: PolicySettings | None = None) -> Engine:
    e = Engine(settings or PolicySettings())
    for agent in ("A", "B"):
        e.on_snapshot(snapshot(agent, snapshot_id=f"{agent}-0", effective=on(date(2023, 1, 2))))
    return e


def decide(e: Engine, event: MemberEvent) -> Decision:
    result = e.on_event(event)
    assert result.rejection is None and len(result.decisions) == 1, result
    return result.decisions[0]


def enrolled(e: Engine, plan: PlanRef, effective: date, event_id: str = "enr-1") -> Decision:
    return decide(e, enrollment(event_id, plan=plan, effective=effective, writing="A",
                                occurred=on(effective - timedelta(days=20))))


def change(e: Engine, to_plan: PlanRef, effective: date, event_id: str = "chg-1", *,
           channel: Channel = DPCL, facilitator: str | None = None,
           state: str = "FL") -> Decision:
    return decide(e, plan_change(event_id, channel=channel, facilitator=facilitator,
                                 state=state, to_plan=to_plan, effective=effective,
                                 occurred=on(effective - timedelta(days=10))))


def check(d: Decision, rule: str) -> RuleCheck:
    found = [c for c in d.assignment.rule_trace if c.rule == rule]
    assert len(found) == 1, (rule, d.assignment.rule_trace)
    return found[0]


def stop_of(d: Decision) -> CommissionAdjustment:
    stop, = (a for a in d.adjustments if a.kind is STOP)
    return stop


# ------------------------------------------------------------------ rapid disenrollment

RAPID = [
    # id, START plan and effective date, change effective, rapid, AEP exception
    ("jan-to-feb", MA_26, date(2026, 1, 1), date(2026, 2, 1), True, False),
    ("jan-to-apr", MA_26, date(2026, 1, 1), date(2026, 4, 1), True, False),
    ("jan-to-may", MA_26, date(2026, 1, 1), date(2026, 5, 1), False, False),
    ("sep-to-dec", MA_26, date(2026, 9, 1), date(2026, 12, 1), True, False),
    ("oct-to-dec", MA_25, date(2025, 10, 1), date(2025, 12, 1), True, False),
    ("oct-to-jan", MA_25, date(2025, 10, 1), date(2026, 1, 1), False, True),
    ("nov-to-jan", MA_25, date(2025, 11, 1), date(2026, 1, 1), False, True),
    ("dec-to-jan", MA_25, date(2025, 12, 1), date(2026, 1, 1), False, True),
    ("dec-to-feb", MA_25, date(2025, 12, 1), date(2026, 2, 1), True, False),
    ("dec-to-mar", MA_25, date(2025, 12, 1), date(2026, 3, 1), True, False),
    ("dec-to-apr", MA_25, date(2025, 12, 1), date(2026, 4, 1), False, False),
    ("sep-to-jan", MA_25, date(2025, 9, 1), date(2026, 1, 1), False, False),
]


@pytest.mark.parametrize(("name", "plan", "began", "effective", "rapid", "exception"), RAPID,
                         ids=[r[0] for r in RAPID])
def test_rapid_disenrollment_recovers_the_whole_start(
        name: str, plan: PlanRef, began: date, effective: date, rapid: bool,
        exception: bool) -> None:
    e = engine()
    start, = enrolled(e, plan, began).adjustments
    to_plan = MA_26 if effective.year == 2026 else PlanRef("H3000-003-25", PlanType.MA, 2025)
    d = change(e, to_plan, effective)
    stop = stop_of(d)
    traced = check(d, "RAPID_DISENROLLMENT")
    assert (traced.passed, traced.agent_id, traced.snapshot_id) == (rapid, "A", None)
    assert began.isoformat() in traced.detail
    assert ("Annual Election Period exception" in traced.detail) is exception
    assert recovery(start, effective).rapid is rapid
    if rapid:
        assert (stop.amount, stop.months) == (-start.amount, start.months)  # type: ignore[operator]
        assert "whole START is recovered" in traced.detail
    else:
        assert stop.amount != -start.amount  # type: ignore[operator]


def test_rapid_recovery_ignores_the_year_the_stop_is_dated_in() -> None:
    e = engine()
    enrolled(e, MA_25, date(2025, 12, 1))  # 626 / 12 = 52.17 for December
    stop = stop_of(change(e, MA_26, date(2026, 2, 1)))
    assert (stop.effective_date, stop.plan, stop.months, stop.amount) == (
        date(2026, 1, 31), MA_25, 1, D("-52.17"))


# ------------------------------------------------------------------ months not enrolled

MONTHS = [
    # id, START plan and date, change effective, months recovered, amount
    ("may-1", MA_26, date(2026, 1, 1), date(2026, 5, 1), 8, "-462.67"),
    ("june-1", MA_26, date(2026, 1, 1), date(2026, 6, 1), 7, "-404.83"),  # policy.md
    ("dec-1", MA_26, date(2026, 1, 1), date(2026, 12, 1), 1, "-57.83"),
    ("jan-1-next-year", MA_25, date(2025, 1, 1), date(2026, 1, 1), None, None),  # December
    ("after-the-plan-year", MA_25, date(2025, 3, 1), date(2026, 7, 1), None, None),
    ("aep-exception", MA_25, date(2025, 11, 1), date(2026, 1, 1), None, None),
    ("mid-year-start", MA_26, date(2026, 3, 1), date(2026, 9, 1), 4, "-231.33"),
]


@pytest.mark.parametrize(("name", "plan", "began", "effective", "months", "amount"), MONTHS,
                         ids=[m[0] for m in MONTHS])
def test_a_stop_recovers_the_months_after_it_within_the_plan_year(
        name: str, plan: PlanRef, began: date, effective: date, months: int | None,
        amount: str | None) -> None:
    e = engine()
    start, = enrolled(e, plan, began).adjustments
    to_plan = MAPD_26 if effective.year == 2026 else MA_25
    stop = stop_of(change(e, to_plan, effective))
    assert (stop.months, stop.amount) == (months, None if amount is None else D(amount))
    if amount is None:
        # A STOP that recovers nothing carries none of the START's figures.
        assert (stop.basis, stop.annual_amount, stop.schedule_region) == (None, None, None)
    else:
        assert (stop.basis, stop.annual_amount, stop.schedule_region) == (
            start.basis, start.annual_amount, start.schedule_region)


def test_a_recovering_stop_keeps_the_region_of_its_start() -> None:
    """The member moved from California (CA_NJ) to Florida between START and STOP."""
    e = engine()
    ca = decide(e, enrollment("enr-1", state="CA", plan=MA_26, effective=date(2026, 1, 1),
                              writing="A", occurred=on(date(2025, 12, 10))))
    start, = ca.adjustments
    assert (start.annual_amount, start.schedule_region) == (D("864"), "CA_NJ")
    d = change(e, MAPD_26, date(2026, 7, 1), state="FL")
    stop = stop_of(d)
    assert (stop.annual_amount, stop.schedule_region, stop.months, stop.amount) == (
        D("864"), "CA_NJ", 6, D("-432.00"))
    new_start = d.adjustments[-1]
    assert (new_start.schedule_region, new_start.annual_amount) == ("NATIONAL", D("694"))


def test_a_renewal_start_is_recovered_at_its_renewal_rate() -> None:
    e = engine()
    enrolled(e, MA_25, date(2025, 1, 1))
    renewal = change(e, MA_26, date(2026, 1, 1)).adjustments[-1]  # AEP: like, renews
    assert (renewal.basis, renewal.amount) == (RENEWAL, D("347.00"))
    stop = stop_of(change(e, MAPD_26, date(2026, 8, 1), event_id="chg-2"))
    assert (stop.basis, stop.annual_amount, stop.months, stop.amount) == (
        RENEWAL, D("347"), 5, D("-144.58"))


# ------------------------------------------------------------------- second election


def test_a_second_election_reverses_instead_of_recovering() -> None:
    """A second election within three months: a REVERSAL of the plan left, no STOP, and so
    no RAPID_DISENROLLMENT entry."""
    e = engine()
    enrolled(e, MA_26, date(2026, 1, 1))
    first = change(e, MAPD_26, date(2026, 3, 1))
    rapid_stop = stop_of(first)
    assert rapid_stop.amount == D("-694.00")
    second = change(e, MA_26, date(2026, 3, 1), event_id="chg-2")
    assert [a.kind for a in second.adjustments] == [REVERSAL, START]
    assert second.adjustments[0].reverses_adjustment_id == first.adjustments[1].adjustment_id
    assert not [c for c in second.assignment.rule_trace if c.rule == "RAPID_DISENROLLMENT"]
    # Judged against the plan before MAPD (MA, like), in the initial enrollment year.
    assert (second.adjustments[1].basis, second.adjustments[1].amount) == (
        INITIAL, D("578.33"))


# --------------------------------------------------------------- initial enrollment year

INITIAL_YEAR = [
    # id, first event, then a like change into 2026 effective March: basis, amount
    ("enrolled-in-2026", "enrollment", MA_26, date(2026, 1, 1), INITIAL, "578.33"),
    ("enrolled-in-2025", "enrollment", MA_25, date(2025, 1, 1), RENEWAL, "289.17"),
    ("first-seen-with-a-prior-plan", "from_plan", MA_26, date(2026, 1, 1), RENEWAL, "289.17"),
    ("first-change-without-from-plan", "no_from_plan", MA_26, date(2026, 1, 1), INITIAL,
     "578.33"),
]


@pytest.mark.parametrize(("name", "first", "plan", "effective", "basis", "amount"),
                         INITIAL_YEAR, ids=[r[0] for r in INITIAL_YEAR])
def test_a_like_change_in_the_initial_enrollment_year_pays_initial(
        name: str, first: str, plan: PlanRef, effective: date, basis: Basis,
        amount: str) -> None:
    e = engine()
    if first == "enrollment":
        enrolled(e, plan, effective)
    else:
        # The first event is a plan change through A (row 1, house account assigned).
        decide(e, plan_change("chg-0", channel=Channel.AGENT_APPLICATION, facilitator="A",
                              from_plan=MA_24 if first == "from_plan" else None,
                              to_plan=plan, effective=effective,
                              occurred=on(effective - timedelta(days=10))))
    d = change(e, MAPD_26, date(2026, 3, 1))
    start = d.adjustments[-1]
    assert (start.basis, start.amount) == (basis, D(amount))
    traced = check(d, "INITIAL_ENROLLMENT_YEAR")
    assert traced.agent_id is None
    assert traced.passed is (basis is INITIAL)
    expected = "2026" if basis is INITIAL else (
        "none known" if first == "from_plan" else "2025")
    assert f"initial enrollment year {expected}" in traced.detail


def test_the_initial_year_does_not_change_an_unlike_change() -> None:
    e = engine()
    enrolled(e, MA_25, date(2025, 1, 1))
    d = change(e, PDP_26, date(2026, 3, 1))
    assert d.adjustments[-1].basis is INITIAL  # unlike: INITIAL anyway
    traced = check(d, "INITIAL_ENROLLMENT_YEAR")
    assert not traced.passed and "unlike plan type" in traced.detail


def test_a_re_enrollment_in_the_initial_year_pays_initial() -> None:
    """E1: an existing member's enrollment is judged like a change, with the same rule."""
    e = engine()
    enrolled(e, MA_26, date(2026, 1, 1))
    again = decide(e, enrollment("enr-2", plan=MAPD_26, effective=date(2026, 6, 1),
                                 writing="A", occurred=on(date(2026, 5, 10))))
    start = again.adjustments[-1]
    assert (start.basis, start.months, start.amount) == (INITIAL, 7, D("404.83"))
    assert check(again, "INITIAL_ENROLLMENT_YEAR").passed


def test_a_house_first_event_sets_the_initial_year_too() -> None:
    e = engine()
    decide(e, enrollment("enr-1", plan=MA_26, writing=None, occurred=on(date(2025, 12, 1))))
    d = change(e, MAPD_26, date(2026, 5, 1), channel=Channel.AGENT_APPLICATION,
               facilitator="B")
    assert (d.adjustments[-1].agent_id, d.adjustments[-1].basis) == ("B", INITIAL)


def test_every_start_traces_the_initial_year_and_every_stop_the_rapid_rule() -> None:
    e = engine()
    first = enrolled(e, MA_26, date(2026, 1, 1))
    assert check(first, "INITIAL_ENROLLMENT_YEAR").detail.startswith(
        "initial enrollment year 2026, which begins with this event")
    assert not [c for c in first.assignment.rule_trace if c.rule == "RAPID_DISENROLLMENT"]
    d = change(e, MAPD_26, date(2026, 6, 1))
    rules = [c.rule for c in d.assignment.rule_trace]
    # What happens to the plan left, then to the new one.
    assert rules[-4:] == ["SECOND_ELECTION", "RAPID_DISENROLLMENT", "LIKE_PLAN_TYPE",
                          "INITIAL_ENROLLMENT_YEAR"]
    assert "the 7 months after 2026-05-31 not enrolled are recovered (-404.83)" in check(
        d, "RAPID_DISENROLLMENT").detail


def test_a_state_from_before_the_rule_has_no_initial_year_and_says_why() -> None:
    """A member restored from a format-2 changelog record: the rule cannot know the year
    (none known, renewal), and the trace says why; a replay rebuilds it."""
    e = engine()
    enrolled(e, MA_26, date(2026, 1, 1))
    state = e.members["M1"]
    e.members["M1"] = MemberState(state.member_id, tuple(
        replace(entry, position=replace(entry.position, initial_year=INITIAL_YEAR_NOT_RECORDED))
        for entry in state.history), state.seen)
    d = change(e, MAPD_26, date(2026, 6, 1))
    assert (d.adjustments[-1].basis, d.adjustments[-1].amount) == (RENEWAL, D("202.42"))
    traced = check(d, "INITIAL_ENROLLMENT_YEAR")
    assert not traced.passed
    assert "none known" in traced.detail and "recorded before the rule" in traced.detail
    # The STOP needs only the START, which old states hold.
    assert stop_of(d).amount == D("-404.83")


# ------------------------------------------------------------------------ corrections


def test_a_late_enrollment_that_makes_a_later_change_rapid_supersedes_it() -> None:
    e = engine()
    enrolled(e, MA_25, date(2025, 1, 1))
    first = change(e, MA_26, date(2026, 6, 1))
    old_stop = stop_of(first)
    assert old_stop.amount is None  # the 2025 START's plan year had ended
    late = enrollment("enr-2", plan=MAPD_26, effective=date(2026, 4, 1), writing="A",
                      occurred=on(date(2026, 3, 10)), recorded=on(date(2026, 7, 1)))
    own, corrected = e.on_event(late).decisions
    assert own.assignment.source_event_id == "enr-2"
    late_start = own.adjustments[-1]
    a = corrected.assignment
    assert (a.source_event_id, a.revision, a.supersedes_decision_id) == (
        "chg-1", 1, first.assignment.decision_id)
    reversal, new_stop = corrected.adjustments
    assert (reversal.kind, reversal.amount, reversal.reverses_adjustment_id) == (
        REVERSAL, None, old_stop.adjustment_id)
    assert (new_stop.kind, new_stop.months, new_stop.amount) == (
        STOP, late_start.months, -late_start.amount)  # type: ignore[operator]
    assert check(corrected, "RAPID_DISENROLLMENT").passed
    # Idempotent: the same input again changes nothing.
    assert e.on_event(late).duplicate


def test_a_correction_that_ends_a_recovery_reverses_it_with_the_negated_amount() -> None:
    """A late snapshot terminates A before the change: the change no longer retains A, but
    A is still the AOR being left, so the STOP and its recovery stand; the START goes."""
    e = engine()
    enrolled(e, MA_26, date(2026, 1, 1))
    d = change(e, MAPD_26, date(2026, 6, 1))
    late = snapshot("A", snapshot_id="A-term", effective=on(date(2026, 5, 1)),
                    recorded=on(date(2026, 6, 15)), appointed=())
    fix, = e.on_snapshot(late).decisions
    assert [(a.kind, a.amount) for a in fix.adjustments] == [(REVERSAL, D("-404.83"))]
    assert fix.adjustments[0].reverses_adjustment_id == d.adjustments[1].adjustment_id


def test_the_default_window_reaches_january_1_of_the_previous_year() -> None:
    """A snapshot recorded on the last day of 2026 still corrects an event of 2025-01-01."""
    settings = PolicySettings()
    assert settings.correction_window_days == 731
    e = engine(settings)
    decide(e, enrollment("enr-1", plan=MA_25, effective=date(2025, 1, 1), writing="B",
                         occurred=on(date(2025, 1, 1))))
    late = snapshot("B", snapshot_id="B-late", effective=on(date(2024, 12, 1)),
                    recorded=datetime(2026, 12, 31, 23, 59, tzinfo=T0.tzinfo), appointed=())
    fix, = e.on_snapshot(late).decisions
    assert fix.assignment.source_event_id == "enr-1" and fix.assignment.revision == 1


def test_the_rules_revision_is_part_of_the_policy_version() -> None:
    assert RULES_REVISION == 2
    assert PolicySettings().canonical()["rules_revision"] == RULES_REVISION
