"""Business validation of contract.md, after the record has passed its schema."""

from __future__ import annotations

from processor.domain.model import (
    FACILITATED_CHANNELS,
    ErrorType,
    MemberEvent,
    PlanChange,
    Rejection,
)
from processor.domain.schedule import USPS_STATES
from processor.domain.settings import PolicySettings


def validate_event(event: MemberEvent, settings: PolicySettings) -> Rejection | None:
    """The first failing rule, in contract order, or None when the event is acceptable."""
    if event.member_state not in USPS_STATES:
        return Rejection(ErrorType.INVALID_STATE,
                         f"member_state {event.member_state!r} is not a valid USPS state code")
    plan = event.new_plan
    eff = event.effective_date
    if eff.day != 1 or eff.year != plan.plan_year:
        return Rejection(
            ErrorType.INVALID_EFFECTIVE_DATE,
            f"effective_date {eff.isoformat()} must be the first of a month in plan year "
            f"{plan.plan_year}")
    if (isinstance(event, PlanChange) and event.channel in FACILITATED_CHANNELS
            and not event.facilitating_agent_id):
        return Rejection(ErrorType.MISSING_FACILITATOR,
                         f"channel {event.channel.value} requires facilitating_agent_id")
    if not settings.schedule.covers(plan.plan_year):
        years = ", ".join(str(y) for y in sorted(settings.schedule.plan_years))
        return Rejection(
            ErrorType.UNKNOWN_PLAN_YEAR,
            f"no commission rates for plan year {plan.plan_year} (schedule "
            f"{settings.schedule.name!r} covers {years}); replay once the schedule has it")
    return None
