"""Builders for domain inputs with sensible defaults, shared by the unit and property tests.

Every builder states only what a test row is about; everything else is a plausible
default: a Florida member, an AEP enrollment occurring in November 2025 and effective
2026-01-01, agents external, active, licensed, appointed and certified everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from processor.domain.agents import AgentTable
from processor.domain.model import (
    Affiliation,
    AgentStatus,
    AgentStatusSnapshot,
    AorAssignment,
    Channel,
    CommissionAdjustment,
    Decision,
    Enrollment,
    PlanChange,
    PlanRef,
    PlanType,
    RuleCheck,
)
from processor.domain.policy import Fact, Position

# The instant the default event occurs: AEP 2025, for plan year 2026.
T0 = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)


def at(days: float = 0.0) -> datetime:
    """An instant `days` after T0 (negative: before)."""
    return T0 + timedelta(days=days)


MA_25 = PlanRef("H1000-001-25", PlanType.MA, 2025)
PDP_25 = PlanRef("S2000-001-25", PlanType.PDP, 2025)
MA_26 = PlanRef("H1000-001", PlanType.MA, 2026)
MAPD_26 = PlanRef("H1000-002", PlanType.MAPD, 2026)
MA2_26 = PlanRef("H3000-003", PlanType.MA, 2026)
PDP_26 = PlanRef("S2000-001", PlanType.PDP, 2026)
PDP2_26 = PlanRef("S4000-004", PlanType.PDP, 2026)

JAN_26 = date(2026, 1, 1)

EVERYWHERE: tuple[str, ...] = (
    "CA", "CT", "DC", "FL", "GA", "NJ", "NY", "PA", "PR", "TX", "VI",
)
CHECKS: tuple[str, ...] = ("SNAPSHOT_FOUND", "ACTIVE", "LICENSED", "APPOINTED", "CERTIFIED")


def snapshot(
    agent_id: str,
    *,
    snapshot_id: str | None = None,
    effective: datetime | None = None,
    recorded: datetime | None = None,
    affiliation: Affiliation = Affiliation.EXTERNAL,
    status: AgentStatus = AgentStatus.ACTIVE,
    licensed: Iterable[str] = EVERYWHERE,
    appointed: Iterable[str] = EVERYWHERE,
    certified: Iterable[int] = (2024, 2025, 2026),
    agency_id: str | None = None,
) -> AgentStatusSnapshot:
    """An agent-status snapshot; by default in force a year before T0, recorded then."""
    eff = effective if effective is not None else at(-365)
    rec = recorded if recorded is not None else eff
    sid = snapshot_id or f"{agent_id}@{eff:%Y%m%dT%H%M}/{rec:%Y%m%dT%H%M}"
    return AgentStatusSnapshot(
        snapshot_id=sid, agent_id=agent_id, effective_at=eff, recorded_at=rec,
        affiliation=affiliation, agency_id=agency_id, status=status,
        licensed_states=tuple(licensed), appointed_states=tuple(appointed),
        certified_plan_years=tuple(certified),
    )


def enrollment(
    event_id: str = "enr-1",
    *,
    member: str = "M1",
    state: str = "FL",
    plan: PlanRef = MA_26,
    effective: date = JAN_26,
    writing: str | None = None,
    occurred: datetime | None = None,
    recorded: datetime | None = None,
) -> Enrollment:
    occ = occurred if occurred is not None else T0
    return Enrollment(
        event_id=event_id, occurred_at=occ, recorded_at=recorded if recorded is not None else occ,
        member_id=member, member_state=state, plan=plan, effective_date=effective,
        writing_agent_id=writing,
    )


def plan_change(
    event_id: str = "chg-1",
    *,
    channel: Channel,
    facilitator: str | None = None,
    member: str = "M1",
    state: str = "FL",
    to_plan: PlanRef = MAPD_26,
    from_plan: PlanRef | None = None,
    effective: date = JAN_26,
    occurred: datetime | None = None,
    recorded: datetime | None = None,
    agency: str | None = None,
) -> PlanChange:
    occ = occurred if occurred is not None else at(10)
    return PlanChange(
        event_id=event_id, occurred_at=occ, recorded_at=recorded if recorded is not None else occ,
        member_id=member, member_state=state, from_plan=from_plan, to_plan=to_plan,
        effective_date=effective, channel=channel, facilitating_agent_id=facilitator,
        facilitating_agency_id=agency,
    )


def agent_table(*snapshots: AgentStatusSnapshot) -> AgentTable:
    table = AgentTable()
    for s in snapshots:
        assert table.add(s)
    return table


def position(aor: str | None, plan: PlanRef = MA_25, effective: date = date(2025, 1, 1),
             ) -> Position:
    """Where a member stands before a decision: `aor` None is the house account."""
    return Position(agent_of_record_id=aor, plan=plan, effective_date=effective, start=None,
                    prior_plan=None)


def policy_row(trace: Iterable[RuleCheck]) -> str:
    """The policy row a trace names in its one POLICY_ROW entry ("row 7: ..." -> "7")."""
    rows = [c for c in trace if c.rule == Fact.POLICY_ROW.value]
    assert len(rows) == 1, f"expected exactly one POLICY_ROW entry, got {rows}"
    detail = rows[0].detail
    assert detail.startswith("row "), detail
    return detail.removeprefix("row ").split(":", 1)[0]


def checks_of(trace: Iterable[RuleCheck], agent_id: str) -> list[RuleCheck]:
    """The eligibility-check entries of one agent, in trace order."""
    return [c for c in trace if c.rule in CHECKS and c.agent_id == agent_id]


def traces_all_five(trace: tuple[RuleCheck, ...], agent_id: str) -> bool:
    """The agent's five checks appear once, in policy order, as one contiguous block."""
    idx = [i for i, c in enumerate(trace) if c.rule in CHECKS and c.agent_id == agent_id]
    if len(idx) != len(CHECKS) or idx != list(range(idx[0], idx[0] + len(CHECKS))):
        return False
    return tuple(trace[i].rule for i in idx) == CHECKS


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def assignments(decisions: Iterable[Decision]) -> list[AorAssignment]:
    return [d.assignment for d in decisions]


def adjustments(decisions: Iterable[Decision]) -> list[CommissionAdjustment]:
    return [a for d in decisions for a in d.adjustments]


__all__ = [
    "CHECKS",
    "EVERYWHERE",
    "JAN_26",
    "MA2_26",
    "MAPD_26",
    "MA_25",
    "MA_26",
    "PDP2_26",
    "PDP_25",
    "PDP_26",
    "T0",
    "adjustments",
    "agent_table",
    "assignments",
    "at",
    "checks_of",
    "enrollment",
    "money",
    "plan_change",
    "policy_row",
    "position",
    "snapshot",
    "traces_all_five",
]
