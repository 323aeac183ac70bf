"""Commission adjustments of policy.md: like/unlike plan type, the initial enrollment year,
proration, START, and STOPs that recover (rapid disenrollment, months not enrolled).

Adjustments are computed without ids; the member engine mints ids when it emits them.
StrEnum members are used as the strings they are (f-strings and str() give the value):
Enum.value is a Python-level property, too slow for a path taken per decision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from processor.domain.model import (
    AdjustmentKind,
    Basis,
    CommissionAdjustment,
    MemberEvent,
    PlanChange,
    PlanRef,
    RuleCheck,
)
from processor.domain.policy import INITIAL_YEAR_NOT_RECORDED, Fact, Position, Ruling, fact
from processor.domain.schedule import region_of
from processor.domain.settings import PolicySettings

CENT = Decimal("0.01")
ZERO = Decimal(0)
UNMINTED = ""
ONE_DAY = timedelta(days=1)
# A START effective in one of these months, changed effective January 1 of the next year,
# is not a rapid disenrollment (the Annual Election Period exception).
AEP_EXCEPTION_MONTHS = frozenset({10, 11, 12})
RAPID_MONTHS = 3


def prorate(annual: Decimal, effective_date: date) -> tuple[int, Decimal]:
    """Months remaining in the plan year from the effective month, and the amount."""
    months = 13 - effective_date.month
    return months, _prorated(annual, months)


@lru_cache(maxsize=1024)
def _prorated(annual: Decimal, months: int) -> Decimal:
    # A handful of annual amounts times twelve months: computed once each.
    return (annual * months / 12).quantize(CENT, rounding=ROUND_HALF_UP)


def _negated(amount: Decimal) -> Decimal:
    # 0 - x rather than -x: a zero amount stays 0.00, never -0.00 (which JSON would show).
    return ZERO - amount


def is_like(new_plan: PlanRef, prior_plan: PlanRef | None) -> bool:
    return prior_plan is not None and prior_plan.plan_type.family == new_plan.plan_type.family


def basis_for(new_plan: PlanRef, prior_plan: PlanRef | None,
              initial_year: int | None = None) -> Basis:
    """RENEWAL for a like change outside the member's initial enrollment year; otherwise
    INITIAL (unlike plan type, no prior plan, or a like change in the initial year)."""
    if is_like(new_plan, prior_plan) and initial_year != new_plan.plan_year:
        return Basis.RENEWAL
    return Basis.INITIAL


def initial_year_of(event: MemberEvent, before: Position | None) -> int | None:
    """The member's initial enrollment year after `event` (policy.md): set by the first
    event in history order when it has no prior plan, then carried forward."""
    if before is not None:
        return before.initial_year
    if isinstance(event, PlanChange) and event.from_plan is not None:
        return None
    return event.new_plan.plan_year


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a STOP recovers of the START being stopped (policy.md)."""

    rapid: bool
    aep_exception: bool
    months: int | None
    amount: Decimal | None


def recovery(start: CommissionAdjustment, new_effective: date) -> Recovery:
    """Rapid disenrollment first (the whole START), else the months after the STOP's date
    when it falls within the START's plan year before December, else nothing."""
    began = start.effective_date
    aep_exception = (began.month in AEP_EXCEPTION_MONTHS
                     and new_effective == date(began.year + 1, 1, 1))
    months_later = (new_effective.year - began.year) * 12 + new_effective.month - began.month
    if not aep_exception and months_later <= RAPID_MONTHS and start.amount is not None:
        return Recovery(True, False, start.months, _negated(start.amount))
    stop_date = new_effective - ONE_DAY
    if (stop_date.year == start.plan.plan_year and stop_date.month < 12
            and start.annual_amount is not None):
        months = 12 - stop_date.month
        return Recovery(False, aep_exception, months,
                        _negated(_prorated(start.annual_amount, months)))
    return Recovery(False, aep_exception, None, None)


def reversal_of(adj: CommissionAdjustment) -> CommissionAdjustment:
    """A REVERSAL carries the negated amount of what it reverses (null stays null)."""
    return replace(
        adj,
        adjustment_id=UNMINTED,
        decision_id=UNMINTED,
        kind=AdjustmentKind.REVERSAL,
        amount=None if adj.amount is None else _negated(adj.amount),
        reverses_adjustment_id=adj.adjustment_id,
    )


def comparison_key(adj: CommissionAdjustment) -> tuple[object, ...]:
    """What a correction compares (policy.md): kind, agent, plan, basis, date, amount."""
    return (adj.kind, adj.agent_id, adj.plan, adj.basis, adj.effective_date, adj.amount)


@dataclass(frozen=True, slots=True)
class Commission:
    adjustments: tuple[CommissionAdjustment, ...]
    trace: tuple[RuleCheck, ...]
    second_election: bool
    prior_plan: PlanRef | None
    initial_year: int | None


def _describe(plan: PlanRef | None) -> str:
    if plan is None:
        return "no prior plan"
    return f"{plan.plan_type} {plan.plan_id} ({plan.plan_year})"


def _initial_year_text(year: int | None) -> str:
    if year is None:
        return "initial enrollment year none known (the member was first seen with a prior plan)"
    if year == INITIAL_YEAR_NOT_RECORDED:
        return ("initial enrollment year none known (this member's state was recorded before "
                "the rule existed; a replay or redecide rebuilds it from history)")
    return f"initial enrollment year {year}"


def _initial_year_check(new_plan: PlanRef, prior_plan: PlanRef | None, like: bool,
                        initial_year: int | None, basis: Basis) -> RuleCheck:
    year = _initial_year_text(initial_year)
    if not like:
        if prior_plan is None and initial_year == new_plan.plan_year:
            return fact(Fact.INITIAL_ENROLLMENT_YEAR, False,
                        f"{year}, which begins with this event (no prior plan): the initial "
                        "rate")
        why = "no prior plan" if prior_plan is None else "an unlike plan type"
        return fact(Fact.INITIAL_ENROLLMENT_YEAR, False,
                    f"{year}; not a like change ({why}): the initial rate")
    if basis is Basis.INITIAL:
        return fact(Fact.INITIAL_ENROLLMENT_YEAR, True,
                    f"{year}: a like change into a {new_plan.plan_year} plan during the "
                    "initial enrollment year pays the initial rate")
    if initial_year is None or initial_year == INITIAL_YEAR_NOT_RECORDED:
        return fact(Fact.INITIAL_ENROLLMENT_YEAR, False, f"{year}: the renewal rate")
    return fact(Fact.INITIAL_ENROLLMENT_YEAR, False,
                f"{year}, not the new plan's year {new_plan.plan_year}: the renewal rate")


def _stop(event: MemberEvent, before: Position, agent_id: str,
          version: str) -> tuple[CommissionAdjustment, RuleCheck]:
    """The STOP for the prior AOR, recovering what policy.md says of the START stopped."""
    stop_date = event.effective_date - ONE_DAY
    start = before.start
    found = None if start is None else recovery(start, event.effective_date)
    if start is None or found is None or found.amount is None:
        stop = CommissionAdjustment(
            adjustment_id=UNMINTED, decision_id=UNMINTED, member_id=event.member_id,
            agent_id=agent_id, kind=AdjustmentKind.STOP, basis=None, plan=before.plan,
            effective_date=stop_date, months=None, annual_amount=None, amount=None,
            schedule_region=None, reverses_adjustment_id=None, policy_version=version)
    else:
        stop = CommissionAdjustment(
            adjustment_id=UNMINTED, decision_id=UNMINTED, member_id=event.member_id,
            agent_id=agent_id, kind=AdjustmentKind.STOP, basis=start.basis, plan=before.plan,
            effective_date=stop_date, months=found.months, annual_amount=start.annual_amount,
            amount=found.amount, schedule_region=start.schedule_region,
            reverses_adjustment_id=None, policy_version=version)
    return stop, _rapid_check(event, start, found, stop_date, agent_id)


def _rapid_check(event: MemberEvent, start: CommissionAdjustment | None,
                 found: Recovery | None, stop_date: date, agent_id: str) -> RuleCheck:
    if start is None or found is None:
        return fact(Fact.RAPID_DISENROLLMENT, False,
                    "no START on record for the plan being left: nothing to recover",
                    agent_id)
    began = start.effective_date.isoformat()
    new = event.effective_date.isoformat()
    if found.rapid:
        return fact(Fact.RAPID_DISENROLLMENT, True,
                    f"START effective {began}, new plan effective {new}: within three months, "
                    f"a rapid disenrollment; the whole START is recovered ({found.amount}, "
                    f"{found.months} months)", agent_id)
    if found.aep_exception:
        head = (f"START effective {began}, new plan effective {new}: not rapid, the Annual "
                "Election Period exception applies (an October-December start changed "
                "effective January 1)")
    else:
        head = (f"START effective {began}, new plan effective {new}: more than three months "
                "later, not rapid")
    if found.amount is not None:
        tail = (f"; the {found.months} months after {stop_date.isoformat()} not enrolled are "
                f"recovered ({found.amount})")
    elif stop_date.year == start.plan.plan_year:
        tail = "; enrolled through December, nothing to recover"
    else:
        tail = f"; the START's plan year {start.plan.plan_year} had ended, nothing to recover"
    return fact(Fact.RAPID_DISENROLLMENT, False, head + tail, agent_id)


def commission(event: MemberEvent, before: Position | None, ruling: Ruling,
               settings: PolicySettings) -> Commission:
    """STOP or REVERSAL for the prior AOR, START for the AOR after the decision."""
    new_plan = event.new_plan
    trace: list[RuleCheck] = []
    adjustments: list[CommissionAdjustment] = []
    version = settings.policy_version
    second = before is not None and event.effective_date <= before.effective_date
    if before is not None:
        trace.append(fact(
            Fact.SECOND_ELECTION, second,
            f"effective {event.effective_date.isoformat()} is on or before "
            f"{before.effective_date.isoformat()} of the plan being left, which never took effect"
            if second else
            f"effective {event.effective_date.isoformat()} is after "
            f"{before.effective_date.isoformat()} of the plan being left"))
    if before is not None and second:
        prior_plan = before.prior_plan
        if before.start is not None:
            adjustments.append(reversal_of(before.start))
    else:
        if before is not None:
            prior_plan = before.plan
        elif isinstance(event, PlanChange):
            prior_plan = event.from_plan
        else:
            prior_plan = None
        if before is not None and before.agent_of_record_id is not None:
            stop, check = _stop(event, before, before.agent_of_record_id, version)
            adjustments.append(stop)
            trace.append(check)
    initial_year = initial_year_of(event, before)
    aor = ruling.agent_of_record_id
    if aor is not None:
        like = is_like(new_plan, prior_plan)
        basis = basis_for(new_plan, prior_plan, initial_year)
        trace.append(fact(
            Fact.LIKE_PLAN_TYPE, like,
            f"{_describe(prior_plan)} -> {new_plan.plan_type} {new_plan.plan_id}: "
            + ("like plan type" if like else "not a like change" if prior_plan is None
               else "unlike plan type")))
        trace.append(_initial_year_check(new_plan, prior_plan, like, initial_year, basis))
        region = region_of(event.member_state)
        annual = settings.schedule.rates_for(new_plan.plan_year, region).annual(
            new_plan.plan_type, basis)
        months, amount = prorate(annual, event.effective_date)
        adjustments.append(CommissionAdjustment(
            adjustment_id=UNMINTED, decision_id=UNMINTED, member_id=event.member_id,
            agent_id=aor, kind=AdjustmentKind.START, basis=basis, plan=new_plan,
            effective_date=event.effective_date, months=months, annual_amount=annual,
            amount=amount, schedule_region=str(region), reverses_adjustment_id=None,
            policy_version=version))
    return Commission(tuple(adjustments), tuple(trace), second, prior_plan, initial_year)
