"""Fixed records shared by the contract tests and regenerate_golden.py.

Each kind has a fully populated record and one with every optional field null.
Changing a value here changes the golden files: regenerate them deliberately.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from processor.codec.dead_letter import DeadLetter
from processor.codec.kinds import RecordKind
from processor.domain.model import (
    AdjustmentKind,
    Affiliation,
    AgentStatus,
    AgentStatusSnapshot,
    AorAssignment,
    Basis,
    Channel,
    CommissionAdjustment,
    Enrollment,
    EventType,
    Outcome,
    PlanChange,
    PlanRef,
    PlanType,
    Reason,
    RuleCheck,
)

T = TypeVar("T")

GOLDEN_DIR = Path(__file__).parent / "golden"

T0 = datetime(2026, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)
T1 = datetime(2026, 1, 15, 10, 5, 0, tzinfo=UTC)
MA_2026 = PlanRef("H1234-001", PlanType.MA, 2026)
PDP_2026 = PlanRef("S5678-002", PlanType.PDP, 2026)

FULL: dict[RecordKind, object] = {
    RecordKind.ENROLLMENT: Enrollment(
        event_id="enr-0001",
        occurred_at=T0,
        recorded_at=T1,
        member_id="M-100",
        member_state="CA",
        plan=MA_2026,
        effective_date=date(2026, 2, 1),
        writing_agent_id="AG-1",
    ),
    RecordKind.PLAN_CHANGE: PlanChange(
        event_id="pc-0001",
        occurred_at=T0,
        recorded_at=T1,
        member_id="M-100",
        member_state="PA",
        from_plan=MA_2026,
        to_plan=PlanRef("H1234-002", PlanType.MAPD, 2026),
        effective_date=date(2026, 3, 1),
        channel=Channel.EXTERNAL_CALL_CENTER,
        facilitating_agent_id="AG-2",
        facilitating_agency_id="AGENCY-9",
    ),
    RecordKind.AGENT_STATUS: AgentStatusSnapshot(
        snapshot_id="snap-0001",
        agent_id="AG-1",
        effective_at=datetime(2025, 10, 1, tzinfo=UTC),
        recorded_at=datetime(2025, 10, 2, 8, 30, tzinfo=UTC),
        affiliation=Affiliation.CALL_CENTER,
        agency_id="AGENCY-9",
        status=AgentStatus.ACTIVE,
        licensed_states=("CA", "NY", "PA"),
        appointed_states=("CA", "PA"),
        certified_plan_years=(2025, 2026),
    ),
    RecordKind.ASSIGNMENT: AorAssignment(
        decision_id="6f1c2a4e-0c1d-5b7e-9a31-3f6a2b9d8e01",
        revision=1,
        supersedes_decision_id="0b7e4c1a-2d3f-5e6a-8b9c-1d2e3f4a5b6c",
        source_event_id="pc-0001",
        source_event_type=EventType.PLAN_CHANGE,
        member_id="M-100",
        member_state="PA",
        plan=PlanRef("H1234-002", PlanType.MAPD, 2026),
        effective_date=date(2026, 3, 1),
        occurred_at=T0,
        decided_as_of=T1,
        outcome=Outcome.TRANSFERRED,
        reason=Reason.EXTERNAL_CALL_CENTER_FACILITATED,
        previous_agent_id="AG-1",
        agent_of_record_id="AG-2",
        facilitating_agent_id="AG-2",
        channel=Channel.EXTERNAL_CALL_CENTER,
        requires_review=True,
        rule_trace=(
            RuleCheck("SNAPSHOT_FOUND", "AG-2", True, "snap-0002", "effective 2025-10-01"),
            RuleCheck("LICENSED", "AG-2", False, "snap-0002", "PA not in [CA, NY] — ñ"),
        ),
        policy_version="default-3f2a9c1b",
    ),
    RecordKind.ADJUSTMENT: CommissionAdjustment(
        adjustment_id="9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d",
        decision_id="6f1c2a4e-0c1d-5b7e-9a31-3f6a2b9d8e01",
        member_id="M-100",
        agent_id="AG-2",
        kind=AdjustmentKind.REVERSAL,
        basis=Basis.RENEWAL,
        plan=MA_2026,
        effective_date=date(2026, 2, 1),
        months=11,
        annual_amount=Decimal("347.00"),
        amount=Decimal("-318.08"),
        schedule_region="national",
        reverses_adjustment_id="1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d",
        policy_version="default-3f2a9c1b",
    ),
    RecordKind.DEAD_LETTER: DeadLetter(
        source="aor.enrollments.v1",
        partition=3,
        offset=1_234_567_890_123,
        key=b"M-100",
        value=b'{"event_id":\xff}',
        error_type="INVALID_RECORD",
        error_message="line is not valid UTF-8",
        failed_at=datetime(2026, 1, 16, 0, 0, 0, 1000, tzinfo=UTC),
    ),
}

MINIMAL: dict[RecordKind, object] = {
    RecordKind.ENROLLMENT: Enrollment(
        event_id="enr-0002",
        occurred_at=T0,
        recorded_at=T0,
        member_id="M-200",
        member_state="TX",
        plan=PDP_2026,
        effective_date=date(2026, 1, 1),
        writing_agent_id=None,
    ),
    RecordKind.PLAN_CHANGE: PlanChange(
        event_id="pc-0002",
        occurred_at=T0,
        recorded_at=T0,
        member_id="M-200",
        member_state="TX",
        from_plan=None,
        to_plan=PDP_2026,
        effective_date=date(2026, 2, 1),
        channel=Channel.DEDICATED_PLAN_CHANGE_LINE,
        facilitating_agent_id=None,
        facilitating_agency_id=None,
    ),
    RecordKind.AGENT_STATUS: AgentStatusSnapshot(
        snapshot_id="snap-0002",
        agent_id="AG-3",
        effective_at=T0,
        recorded_at=T0,
        affiliation=Affiliation.INTERNAL,
        agency_id=None,
        status=AgentStatus.TERMINATED,
        licensed_states=(),
        appointed_states=(),
        certified_plan_years=(),
    ),
    RecordKind.ASSIGNMENT: AorAssignment(
        decision_id="2c9d8e7f-6a5b-5c4d-9e3f-2a1b0c9d8e7f",
        revision=0,
        supersedes_decision_id=None,
        source_event_id="enr-0002",
        source_event_type=EventType.ENROLLMENT,
        member_id="M-200",
        member_state="TX",
        plan=PDP_2026,
        effective_date=date(2026, 1, 1),
        occurred_at=T0,
        decided_as_of=T0,
        outcome=Outcome.HOUSE,
        reason=Reason.NO_EXTERNAL_WRITING_AGENT,
        previous_agent_id=None,
        agent_of_record_id=None,
        facilitating_agent_id=None,
        channel=None,
        requires_review=False,
        rule_trace=(RuleCheck("WRITING_AGENT_PRESENT", None, False, None, "no writing agent"),),
        policy_version="default-3f2a9c1b",
    ),
    RecordKind.ADJUSTMENT: CommissionAdjustment(
        adjustment_id="3d4e5f6a-7b8c-5d9e-8f0a-1b2c3d4e5f6a",
        decision_id="2c9d8e7f-6a5b-5c4d-9e3f-2a1b0c9d8e7f",
        member_id="M-200",
        agent_id="AG-1",
        kind=AdjustmentKind.STOP,
        basis=None,
        plan=PDP_2026,
        effective_date=date(2025, 12, 31),
        months=None,
        annual_amount=None,
        amount=None,
        schedule_region=None,
        reverses_adjustment_id=None,
        policy_version="default-3f2a9c1b",
    ),
    RecordKind.DEAD_LETTER: DeadLetter(
        source="enrollments.jsonl",
        partition=None,
        offset=None,
        key=None,
        value=None,
        error_type="UNKNOWN_SCHEMA",
        error_message="",
        failed_at=T0,
    ),
}

VARIANTS: dict[str, dict[RecordKind, object]] = {"full": FULL, "minimal": MINIMAL}


def golden_name(kind: RecordKind, variant: str) -> str:
    """File stem of a golden case, e.g. `Enrollment.full`."""
    return f"{kind.record_name}.{variant}"


def sample(kind: RecordKind, cls: type[T], variant: str = "full") -> T:
    """A sample with its static type, for tests that use its fields."""
    obj = VARIANTS[variant][kind]
    assert isinstance(obj, cls)
    return obj
