"""Commission adjustments of policy.md: like/unlike plan type, proration, START/STOP.

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
from processor.domain.policy import Fact, Position, Ruling, fact
from processor.domain.schedule import region_of
from processor.domain.settings import PolicySettings

CENT = Decimal("0.01")
UNMINTED = ""


def prorate(annual: Decimal, effective_date: date) -> tuple[int, Decimal]:
    """Months remaining in the plan year from the effective month, and the amount."""
    months = 13 - effective_date.month
    return months, _prorated(annual, months)


@lru_cache(maxsize=1024)
def _prorated(annual: Decimal, months: int) -> Decimal:
    # A handful of annual amounts times twelve months: computed once each.
    return (annual * months / 12).quantize(CENT, rounding=ROUND_HALF_UP)


def basis_for(new_plan: PlanRef, prior_plan: PlanRef | None) -> Basis:
    if prior_plan is not None and prior_plan.plan_type.family == new_plan.plan_type.family:
        return Basis.RENEWAL
    return Basis.INITIAL


def reversal_of(adj: CommissionAdjustment) -> CommissionAdjustment:
    """A REVERSAL carries the negated amount of what it reverses (null for a STOP)."""
    return replace(
        adj,
        adjustment_id=UNMINTED,
        decision_id=UNMINTED,
        kind=AdjustmentKind.REVERSAL,
        amount=None if adj.amount is None else -adj.amount,
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


def _describe(plan: PlanRef | None) -> str:
    if plan is None:
        return "no prior plan"
    return f"{plan.plan_type} {plan.plan_id} ({plan.plan_year})"


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
            adjustments.append(CommissionAdjustment(
                adjustment_id=UNMINTED, decision_id=UNMINTED, member_id=event.member_id,
                agent_id=before.agent_of_record_id, kind=AdjustmentKind.STOP, basis=None,
                plan=before.plan, effective_date=event.effective_date - timedelta(days=1),
                months=None, annual_amount=None, amount=None, schedule_region=None,
                reverses_adjustment_id=None, policy_version=version))
    aor = ruling.agent_of_record_id
    if aor is not None:
        basis = basis_for(new_plan, prior_plan)
        trace.append(fact(
            Fact.LIKE_PLAN_TYPE, basis is Basis.RENEWAL,
            f"{_describe(prior_plan)} -> {new_plan.plan_type} {new_plan.plan_id}: "
            f"{basis.lower()} rate"))
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
    return Commission(tuple(adjustments), tuple(trace), second, prior_plan)
