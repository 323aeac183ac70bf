"""The record kinds that cross the edge, named after their file stems."""

from __future__ import annotations

from enum import StrEnum

from processor.codec.dead_letter import DeadLetter
from processor.domain.model import (
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    Enrollment,
    PlanChange,
)


class RecordKind(StrEnum):
    ENROLLMENT = "enrollments"
    PLAN_CHANGE = "plan-changes"
    AGENT_STATUS = "agent-status"
    ASSIGNMENT = "assignments"
    ADJUSTMENT = "commission-adjustments"
    DEAD_LETTER = "dead-letters"

    @property
    def record_name(self) -> str:
        """The Avro record name, which is also the .avsc file stem."""
        return _RECORD_NAMES[self]

    @property
    def schema_name(self) -> str:
        return f"aor.v1.{_RECORD_NAMES[self]}"

    @property
    def record_type(self) -> type:
        return _RECORD_TYPES[self]

    @staticmethod
    def of(obj: object) -> RecordKind:
        """The kind of a domain object (or DeadLetter)."""
        try:
            return _KIND_BY_TYPE[type(obj)]
        except KeyError:
            raise TypeError(f"no record kind for {type(obj).__name__}") from None


class FileFormat(StrEnum):
    JSONL = "jsonl"
    AVRO = "avro"


INPUT_KINDS: tuple[RecordKind, ...] = (
    RecordKind.ENROLLMENT,
    RecordKind.PLAN_CHANGE,
    RecordKind.AGENT_STATUS,
)
OUTPUT_KINDS: tuple[RecordKind, ...] = (
    RecordKind.ASSIGNMENT,
    RecordKind.ADJUSTMENT,
    RecordKind.DEAD_LETTER,
)

_RECORD_NAMES: dict[RecordKind, str] = {
    RecordKind.ENROLLMENT: "Enrollment",
    RecordKind.PLAN_CHANGE: "PlanChange",
    RecordKind.AGENT_STATUS: "AgentStatusSnapshot",
    RecordKind.ASSIGNMENT: "AorAssignment",
    RecordKind.ADJUSTMENT: "CommissionAdjustment",
    RecordKind.DEAD_LETTER: "DeadLetter",
}
_RECORD_TYPES: dict[RecordKind, type] = {
    RecordKind.ENROLLMENT: Enrollment,
    RecordKind.PLAN_CHANGE: PlanChange,
    RecordKind.AGENT_STATUS: AgentStatusSnapshot,
    RecordKind.ASSIGNMENT: AorAssignment,
    RecordKind.ADJUSTMENT: CommissionAdjustment,
    RecordKind.DEAD_LETTER: DeadLetter,
}
_KIND_BY_TYPE: dict[type, RecordKind] = {t: k for k, t in _RECORD_TYPES.items()}
