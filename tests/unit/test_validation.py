"""One named row per validation error of contract.md that the domain produces.

INVALID_RECORD and UNKNOWN_SCHEMA belong to the codec and are tested there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import pytest

from processor.domain.engine import Engine
from processor.domain.model import Channel, ErrorType, MemberEvent, PlanRef, PlanType
from processor.domain.settings import PolicySettings
from processor.domain.validation import validate_event
from tests.builders import MA_26, PDP_25, at, enrollment, plan_change, snapshot

DEFAULT = PolicySettings()
MA_27 = PlanRef("H1000-001-27", PlanType.MA, 2027)
MA_23 = PlanRef("H1000-001-23", PlanType.MA, 2023)


@dataclass(frozen=True)
class Invalid:
    id: str
    event: MemberEvent
    error: ErrorType


ROWS = [
    Invalid("INVALID_STATE-unknown-code", enrollment(state="XX"), ErrorType.INVALID_STATE),
    Invalid("INVALID_STATE-lowercase", enrollment(state="fl"), ErrorType.INVALID_STATE),
    Invalid("INVALID_STATE-empty", plan_change(channel=Channel.DEDICATED_PLAN_CHANGE_LINE,
                                               state=""), ErrorType.INVALID_STATE),
    Invalid("INVALID_EFFECTIVE_DATE-not-first-of-month",
            enrollment(effective=date(2026, 1, 15)), ErrorType.INVALID_EFFECTIVE_DATE),
    Invalid("INVALID_EFFECTIVE_DATE-first-of-month-in-another-year",
            enrollment(plan=MA_26, effective=date(2025, 12, 1)),
            ErrorType.INVALID_EFFECTIVE_DATE),
    Invalid("INVALID_EFFECTIVE_DATE-plan-change-to-plan-year",
            plan_change(channel=Channel.INTERNAL_TELESALES, to_plan=PDP_25,
                        effective=date(2026, 1, 1)), ErrorType.INVALID_EFFECTIVE_DATE),
    Invalid("MISSING_FACILITATOR-agent-application",
            plan_change(channel=Channel.AGENT_APPLICATION), ErrorType.MISSING_FACILITATOR),
    Invalid("MISSING_FACILITATOR-external-call-center",
            plan_change(channel=Channel.EXTERNAL_CALL_CENTER), ErrorType.MISSING_FACILITATOR),
    Invalid("MISSING_FACILITATOR-agency-without-agent",
            plan_change(channel=Channel.EXTERNAL_CALL_CENTER, agency="AGY-1"),
            ErrorType.MISSING_FACILITATOR),
    Invalid("MISSING_FACILITATOR-empty-agent-id",
            plan_change(channel=Channel.AGENT_APPLICATION, facilitator=""),
            ErrorType.MISSING_FACILITATOR),
    Invalid("UNKNOWN_PLAN_YEAR-after-the-schedule",
            enrollment(plan=MA_27, effective=date(2027, 1, 1)), ErrorType.UNKNOWN_PLAN_YEAR),
    Invalid("UNKNOWN_PLAN_YEAR-before-the-schedule",
            plan_change(channel=Channel.AGENT_APPLICATION, facilitator="A", to_plan=MA_23,
                        effective=date(2023, 7, 1)), ErrorType.UNKNOWN_PLAN_YEAR),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_validation_error(row: Invalid) -> None:
    rejection = validate_event(row.event, DEFAULT)
    assert rejection is not None and rejection.error_type is row.error
    assert rejection.message


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_invalid_event_is_rejected_without_output_or_state(row: Invalid) -> None:
    engine = Engine(DEFAULT)
    result = engine.on_event(row.event)
    assert result.rejection is not None and result.rejection.error_type is row.error
    assert result.decisions == () and not result.duplicate
    assert engine.members == {}


VALID = [
    ("enrollment-without-writing-agent", enrollment()),
    ("enrollment-mid-year", enrollment(effective=date(2026, 7, 1))),
    ("enrollment-december", enrollment(effective=date(2026, 12, 1))),
    ("territory-guam", enrollment(state="GU")),
    ("territory-virgin-islands", enrollment(state="VI")),
    ("district-of-columbia", enrollment(state="DC")),
    *((f"internal-channel-without-facilitator-{c.value}", plan_change(channel=c))
      for c in Channel if c not in (Channel.AGENT_APPLICATION, Channel.EXTERNAL_CALL_CENTER)),
    ("agent-application-with-facilitator",
     plan_change(channel=Channel.AGENT_APPLICATION, facilitator="A")),
    ("external-call-center-with-facilitator",
     plan_change(channel=Channel.EXTERNAL_CALL_CENTER, facilitator="CC", agency="AGY-1")),
]


@pytest.mark.parametrize(("name", "event"), VALID, ids=[n for n, _ in VALID])
def test_valid_event_passes(name: str, event: MemberEvent) -> None:
    assert validate_event(event, DEFAULT) is None


def test_unknown_plan_year_is_accepted_once_the_schedule_has_it() -> None:
    from processor.domain.schedule import DEFAULT_SCHEDULE, RateSchedule

    extended = RateSchedule("with-2027", DEFAULT_SCHEDULE.rates + tuple(
        (2027, region, rates) for year, region, rates in DEFAULT_SCHEDULE.rates if year == 2026))
    event = enrollment(plan=MA_27, effective=date(2027, 1, 1))
    assert validate_event(event, DEFAULT) is not None
    assert validate_event(event, PolicySettings(schedule=extended)) is None


# ------------------------------------------------------------------------- duplicates


def _engine_with_first() -> tuple[Engine, MemberEvent]:
    engine = Engine(DEFAULT)
    engine.on_snapshot(snapshot("A"))
    first = enrollment("enr-1", writing="A")
    assert engine.on_event(first).decisions
    return engine, first


def test_identical_payload_is_a_duplicate_with_no_output_and_no_state_change() -> None:
    engine, first = _engine_with_first()
    before = engine.members["M1"]
    result = engine.on_event(first)
    assert result.duplicate and result.rejection is None and result.decisions == ()
    assert engine.members["M1"] is before


def test_redelivery_with_a_new_recorded_at_is_a_duplicate() -> None:
    engine, first = _engine_with_first()
    before = engine.members["M1"]
    result = engine.on_event(replace(first, recorded_at=at(3)))
    assert result.duplicate and result.decisions == ()
    assert engine.members["M1"] is before


CONFLICTS = [
    ("other-writing-agent", {"writing_agent_id": "B"}),
    ("other-plan", {"plan": PlanRef("S9", PlanType.PDP, 2026)}),
    ("other-effective-date", {"effective_date": date(2026, 2, 1)}),
    ("other-occurred-at", {"occurred_at": at(-1)}),
]


@pytest.mark.parametrize(("name", "change"), CONFLICTS, ids=[n for n, _ in CONFLICTS])
def test_conflicting_duplicate(name: str, change: dict[str, object]) -> None:
    engine, first = _engine_with_first()
    before = engine.members["M1"]
    result = engine.on_event(replace(first, **change))  # type: ignore[arg-type]
    assert result.rejection is not None
    assert result.rejection.error_type is ErrorType.CONFLICTING_DUPLICATE
    assert result.decisions == () and not result.duplicate
    assert engine.members["M1"] is before


def test_conflicting_duplicate_of_another_event_type() -> None:
    engine, _ = _engine_with_first()
    other = plan_change("enr-1", channel=Channel.DEDICATED_PLAN_CHANGE_LINE)
    result = engine.on_event(other)
    assert result.rejection is not None
    assert result.rejection.error_type is ErrorType.CONFLICTING_DUPLICATE


def test_seen_ids_are_kept_after_later_events() -> None:
    engine, first = _engine_with_first()
    engine.on_event(plan_change("chg-1", channel=Channel.DEDICATED_PLAN_CHANGE_LINE))
    assert engine.on_event(first).duplicate


def test_conflicting_snapshot_id_is_rejected() -> None:
    engine = Engine(DEFAULT)
    assert engine.on_snapshot(snapshot("A", snapshot_id="s1")).rejection is None
    same = engine.on_snapshot(snapshot("A", snapshot_id="s1"))
    assert same.rejection is None and same.decisions == () and same.duplicate
    other = engine.on_snapshot(snapshot("A", snapshot_id="s1", licensed=("GA",)))
    assert other.rejection is not None
    assert other.rejection.error_type is ErrorType.CONFLICTING_DUPLICATE
