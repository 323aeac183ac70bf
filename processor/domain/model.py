"""Frozen domain types for members, agents, events, decisions and adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class PlanType(StrEnum):
    MA = "MA"
    MAPD = "MAPD"
    PDP = "PDP"

    @property
    def family(self) -> str:
        """MA and MAPD are one family for like/unlike plan type; PDP is the other."""
        return "PDP" if self is PlanType.PDP else "MA"


class Channel(StrEnum):
    DEDICATED_PLAN_CHANGE_LINE = "DEDICATED_PLAN_CHANGE_LINE"
    CUSTOMER_SERVICE_TRANSFER = "CUSTOMER_SERVICE_TRANSFER"
    INTERNAL_FIELD_SALES = "INTERNAL_FIELD_SALES"
    INTERNAL_TELESALES = "INTERNAL_TELESALES"
    AGENT_APPLICATION = "AGENT_APPLICATION"
    EXTERNAL_CALL_CENTER = "EXTERNAL_CALL_CENTER"


INTERNAL_CHANNELS: frozenset[Channel] = frozenset(
    {
        Channel.DEDICATED_PLAN_CHANGE_LINE,
        Channel.CUSTOMER_SERVICE_TRANSFER,
        Channel.INTERNAL_FIELD_SALES,
        Channel.INTERNAL_TELESALES,
    }
)
FACILITATED_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.AGENT_APPLICATION, Channel.EXTERNAL_CALL_CENTER}
)


class Affiliation(StrEnum):
    EXTERNAL = "EXTERNAL"
    CALL_CENTER = "CALL_CENTER"
    INTERNAL = "INTERNAL"

    @property
    def is_external(self) -> bool:
        return self is not Affiliation.INTERNAL


class AgentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"


class EventType(StrEnum):
    ENROLLMENT = "ENROLLMENT"
    PLAN_CHANGE = "PLAN_CHANGE"


class Outcome(StrEnum):
    ASSIGNED = "ASSIGNED"
    RETAINED = "RETAINED"
    TRANSFERRED = "TRANSFERRED"
    RELEASED = "RELEASED"
    HOUSE = "HOUSE"


class Reason(StrEnum):
    NO_EXTERNAL_WRITING_AGENT = "NO_EXTERNAL_WRITING_AGENT"
    NEW_ENROLLMENT = "NEW_ENROLLMENT"
    WRITING_AGENT_INELIGIBLE = "WRITING_AGENT_INELIGIBLE"
    HOUSE_ACCOUNT_ASSIGNED = "HOUSE_ACCOUNT_ASSIGNED"
    NO_ORIGINAL_AGENT = "NO_ORIGINAL_AGENT"
    INTERNAL_PLAN_CHANGE_PROTECTED = "INTERNAL_PLAN_CHANGE_PROTECTED"
    ORIGINAL_AGENT_INELIGIBLE = "ORIGINAL_AGENT_INELIGIBLE"
    ORIGINAL_AGENT_APPLICATION = "ORIGINAL_AGENT_APPLICATION"
    EXTERNAL_AGENT_FACILITATED = "EXTERNAL_AGENT_FACILITATED"
    EXTERNAL_CALL_CENTER_FACILITATED = "EXTERNAL_CALL_CENTER_FACILITATED"
    FACILITATOR_INELIGIBLE = "FACILITATOR_INELIGIBLE"
    # Reasons reachable only under non-default policy settings (what-if replays).
    INTERNAL_CHANNEL_NOT_PROTECTED = "INTERNAL_CHANNEL_NOT_PROTECTED"
    FACILITATOR_DOES_NOT_TAKE_AOR = "FACILITATOR_DOES_NOT_TAKE_AOR"


class AdjustmentKind(StrEnum):
    START = "START"
    STOP = "STOP"
    REVERSAL = "REVERSAL"


class Basis(StrEnum):
    INITIAL = "INITIAL"
    RENEWAL = "RENEWAL"


class ErrorType(StrEnum):
    """Dead-letter error types of contract.md plus the wire-level ones."""

    INVALID_RECORD = "INVALID_RECORD"
    INVALID_STATE = "INVALID_STATE"
    INVALID_EFFECTIVE_DATE = "INVALID_EFFECTIVE_DATE"
    MISSING_FACILITATOR = "MISSING_FACILITATOR"
    UNKNOWN_PLAN_YEAR = "UNKNOWN_PLAN_YEAR"
    CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    # An input record on another partition than its key's (AOR_INPUT_PARTITIONER).
    MISPARTITIONED = "MISPARTITIONED"


@dataclass(frozen=True, slots=True)
class PlanRef:
    plan_id: str
    plan_type: PlanType
    plan_year: int


@dataclass(frozen=True, slots=True)
class Enrollment:
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    member_id: str
    member_state: str
    plan: PlanRef
    effective_date: date
    writing_agent_id: str | None = None

    @property
    def event_type(self) -> EventType:
        return EventType.ENROLLMENT

    @property
    def new_plan(self) -> PlanRef:
        return self.plan


@dataclass(frozen=True, slots=True)
class PlanChange:
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    member_id: str
    member_state: str
    from_plan: PlanRef | None
    to_plan: PlanRef
    effective_date: date
    channel: Channel
    facilitating_agent_id: str | None = None
    facilitating_agency_id: str | None = None

    @property
    def event_type(self) -> EventType:
        return EventType.PLAN_CHANGE

    @property
    def new_plan(self) -> PlanRef:
        return self.to_plan


MemberEvent = Enrollment | PlanChange


@dataclass(frozen=True, slots=True)
class AgentStatusSnapshot:
    snapshot_id: str
    agent_id: str
    effective_at: datetime
    recorded_at: datetime
    affiliation: Affiliation
    agency_id: str | None
    status: AgentStatus
    licensed_states: tuple[str, ...]
    appointed_states: tuple[str, ...]
    certified_plan_years: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RuleCheck:
    rule: str
    agent_id: str | None
    passed: bool
    snapshot_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class CommissionAdjustment:
    adjustment_id: str
    decision_id: str
    member_id: str
    agent_id: str
    kind: AdjustmentKind
    basis: Basis | None
    plan: PlanRef
    effective_date: date
    months: int | None
    annual_amount: Decimal | None
    amount: Decimal | None
    schedule_region: str | None
    reverses_adjustment_id: str | None
    policy_version: str


@dataclass(frozen=True, slots=True)
class AorAssignment:
    decision_id: str
    revision: int
    supersedes_decision_id: str | None
    source_event_id: str
    source_event_type: EventType
    member_id: str
    member_state: str
    plan: PlanRef
    effective_date: date
    occurred_at: datetime
    decided_as_of: datetime
    outcome: Outcome
    reason: Reason
    previous_agent_id: str | None
    agent_of_record_id: str | None
    facilitating_agent_id: str | None
    channel: Channel | None
    requires_review: bool
    rule_trace: tuple[RuleCheck, ...]
    policy_version: str


@dataclass(frozen=True, slots=True)
class Decision:
    """One emitted decision: the assignment and the adjustments minted with it."""

    assignment: AorAssignment
    adjustments: tuple[CommissionAdjustment, ...]


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input the policy refuses; the shell turns it into a dead letter."""

    error_type: ErrorType
    message: str
