"""The worked examples of policy.md ("Commission adjustments") and the boundaries of issue
11, as input folders and the adjustments each member must end with.

Shared by tests/e2e/test_worked_examples.py (`replay`) and
tests/integration/test_worked_examples.py (`load`, `run`, `dump` against the broker), so
both paths are held to the same figures. Every member lives in Florida (national region),
its agents A and B are external and eligible throughout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from processor.codec.files import write_records
from processor.codec.kinds import FileFormat, RecordKind
from processor.domain.model import (
    Affiliation,
    AgentStatus,
    AgentStatusSnapshot,
    Channel,
    Enrollment,
    MemberEvent,
    PlanChange,
    PlanRef,
    PlanType,
)

D = Decimal
DPCL = Channel.DEDICATED_PLAN_CHANGE_LINE
MA_25 = PlanRef("H1000-001", PlanType.MA, 2025)
MA_26 = PlanRef("H1000-001", PlanType.MA, 2026)
MAPD_26 = PlanRef("H1000-002", PlanType.MAPD, 2026)
MA2_26 = PlanRef("H3000-003", PlanType.MA, 2026)
STATES = ("FL", "GA", "NY")


def _at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _snapshot(agent_id: str) -> AgentStatusSnapshot:
    since = _at(date(2023, 1, 2))
    return AgentStatusSnapshot(
        snapshot_id=f"{agent_id}-2023", agent_id=agent_id, effective_at=since,
        recorded_at=since, affiliation=Affiliation.EXTERNAL, agency_id=None,
        status=AgentStatus.ACTIVE, licensed_states=STATES, appointed_states=STATES,
        certified_plan_years=(2024, 2025, 2026))


SNAPSHOTS = (_snapshot("A"), _snapshot("B"))


def enrolled(member: str, plan: PlanRef, effective: date, *, recorded: date | None = None,
             occurred: date | None = None, seq: int = 0) -> Enrollment:
    """An enrollment by agent A, occurring three weeks before it takes effect."""
    happened = occurred or effective - timedelta(days=21)
    return Enrollment(
        event_id=f"{member}-{seq}", occurred_at=_at(happened),
        recorded_at=_at(recorded or happened, 16), member_id=member, member_state="FL",
        plan=plan, effective_date=effective, writing_agent_id="A")


def changed(member: str, seq: int, to_plan: PlanRef, effective: date, *,
            channel: Channel = DPCL, facilitator: str | None = None,
            from_plan: PlanRef | None = None) -> PlanChange:
    """A plan change occurring ten days before it takes effect, recorded the same day."""
    happened = effective - timedelta(days=10)
    return PlanChange(
        event_id=f"{member}-{seq}", occurred_at=_at(happened), recorded_at=_at(happened, 16),
        member_id=member, member_state="FL", from_plan=from_plan, to_plan=to_plan,
        effective_date=effective, channel=channel, facilitating_agent_id=facilitator)


@dataclass(frozen=True)
class Expected:
    """One standing adjustment: (event, kind, agent, basis, months, amount)."""

    event_id: str
    kind: str
    agent_id: str
    basis: str | None
    months: int | None
    amount: Decimal | None


@dataclass(frozen=True)
class Example:
    member_id: str
    says: str  # what policy.md or the issue says, in its words
    events: tuple[MemberEvent, ...]
    adjustments: tuple[Expected, ...]  # in emission order, reversals included
    net: Decimal
    # rule -> passed, in the trace of the member's last event in history order
    trace: tuple[tuple[str, bool], ...] = ()


def _x(event_id: str, kind: str, basis: str | None, months: int | None,
       amount: str | None, agent_id: str = "A") -> Expected:
    return Expected(event_id, kind, agent_id, basis, months,
                    None if amount is None else D(amount))


EXAMPLES: tuple[Example, ...] = (
    Example(
        "we-318", "initial enrollment year 2025: a like change effective 2026-02-01 into a "
        "national MA plan pays 11/12 x 347.00 = 318.08",
        (enrolled("we-318", MA_25, date(2025, 1, 1)),
         changed("we-318", 1, MAPD_26, date(2026, 2, 1))),
        (_x("we-318-0", "START", "INITIAL", 12, "626.00"),
         _x("we-318-1", "STOP", None, None, None),  # dated after the 2025 plan year
         _x("we-318-1", "START", "RENEWAL", 11, "318.08")),
        D("944.08"), (("RAPID_DISENROLLMENT", False), ("INITIAL_ENROLLMENT_YEAR", False))),
    Example(
        "we-318-none", "initial enrollment year none known (first seen with a prior plan): "
        "the same change pays 318.08",
        (changed("we-318-none", 0, MAPD_26, date(2026, 2, 1), from_plan=MA_25,
                 channel=Channel.AGENT_APPLICATION, facilitator="A"),),
        (_x("we-318-none-0", "START", "RENEWAL", 11, "318.08"),),
        D("318.08"), (("INITIAL_ENROLLMENT_YEAR", False),)),
    Example(
        "we-rapid", "enrolled 2026-01-01 (694.00), changed internally effective 2026-03-01: "
        "STOP -694.00, START INITIAL 578.33 (10 months); net 578.33",
        (enrolled("we-rapid", MA_26, date(2026, 1, 1)),
         changed("we-rapid", 1, MA2_26, date(2026, 3, 1))),
        (_x("we-rapid-0", "START", "INITIAL", 12, "694.00"),
         _x("we-rapid-1", "STOP", "INITIAL", 12, "-694.00"),
         _x("we-rapid-1", "START", "INITIAL", 10, "578.33")),
        D("578.33"), (("RAPID_DISENROLLMENT", True), ("INITIAL_ENROLLMENT_YEAR", True))),
    Example(
        "we-months", "a new member enrolled 2026-01-01 (START INITIAL 694.00) changes plans "
        "internally effective 2026-06-01: STOP -404.83 (7 months), START INITIAL 404.83 "
        "(7 months); net 694.00",
        (enrolled("we-months", MA_26, date(2026, 1, 1)),
         changed("we-months", 1, MA2_26, date(2026, 6, 1))),
        (_x("we-months-0", "START", "INITIAL", 12, "694.00"),
         _x("we-months-1", "STOP", "INITIAL", 7, "-404.83"),
         _x("we-months-1", "START", "INITIAL", 7, "404.83")),
        D("694.00"), (("RAPID_DISENROLLMENT", False), ("INITIAL_ENROLLMENT_YEAR", True))),
    Example(
        "we-apr", "enrolled January 1, changed effective April 1: rapid",
        (enrolled("we-apr", MA_26, date(2026, 1, 1)),
         changed("we-apr", 1, MA2_26, date(2026, 4, 1))),
        (_x("we-apr-0", "START", "INITIAL", 12, "694.00"),
         _x("we-apr-1", "STOP", "INITIAL", 12, "-694.00"),
         _x("we-apr-1", "START", "INITIAL", 9, "520.50")),
        D("520.50"), (("RAPID_DISENROLLMENT", True),)),
    Example(
        "we-may", "enrolled January 1, changed effective May 1: not rapid; the 8 months "
        "after April 30 are recovered",
        (enrolled("we-may", MA_26, date(2026, 1, 1)),
         changed("we-may", 1, MA2_26, date(2026, 5, 1))),
        (_x("we-may-0", "START", "INITIAL", 12, "694.00"),
         _x("we-may-1", "STOP", "INITIAL", 8, "-462.67"),
         _x("we-may-1", "START", "INITIAL", 8, "462.67")),
        D("694.00"), (("RAPID_DISENROLLMENT", False),)),
    Example(
        "we-dec-feb", "a December 1 enrollment changed effective February 1: rapid",
        (enrolled("we-dec-feb", MA_25, date(2025, 12, 1)),
         changed("we-dec-feb", 1, MA_26, date(2026, 2, 1))),
        (_x("we-dec-feb-0", "START", "INITIAL", 1, "52.17"),
         _x("we-dec-feb-1", "STOP", "INITIAL", 1, "-52.17"),
         _x("we-dec-feb-1", "START", "RENEWAL", 11, "318.08")),
        D("318.08"), (("RAPID_DISENROLLMENT", True), ("INITIAL_ENROLLMENT_YEAR", False))),
    Example(
        "we-nov-jan", "a November 1 enrollment changed effective January 1 (the AEP "
        "exception): not rapid, and the STOP dated December 31 recovers nothing",
        (enrolled("we-nov-jan", MA_25, date(2025, 11, 1)),
         changed("we-nov-jan", 1, MA_26, date(2026, 1, 1))),
        (_x("we-nov-jan-0", "START", "INITIAL", 2, "104.33"),
         _x("we-nov-jan-1", "STOP", None, None, None),
         _x("we-nov-jan-1", "START", "RENEWAL", 12, "347.00")),
        D("451.33"), (("RAPID_DISENROLLMENT", False),)),
    Example(
        "we-late", "a late re-enrollment effective 2026-04-01 makes the change effective "
        "2026-06-01 rapid: the change is superseded, its STOP that recovered nothing is "
        "reversed and the whole START of the re-enrollment is recovered",
        (enrolled("we-late", MA_25, date(2025, 1, 1)),
         changed("we-late", 2, MA2_26, date(2026, 6, 1)),
         # E1 through A (row 5), occurred in March, recorded only in July.
         enrolled("we-late", MA_26, date(2026, 4, 1), occurred=date(2026, 3, 10),
                  recorded=date(2026, 7, 1), seq=1)),
        (_x("we-late-0", "START", "INITIAL", 12, "626.00"),
         _x("we-late-2", "STOP", None, None, None),
         _x("we-late-2", "START", "RENEWAL", 7, "202.42"),
         _x("we-late-1", "STOP", None, None, None),  # dated after the 2025 plan year
         _x("we-late-1", "START", "RENEWAL", 9, "260.25"),
         _x("we-late-2", "REVERSAL", None, None, None),  # of the STOP that recovered nothing
         _x("we-late-2", "STOP", "RENEWAL", 9, "-260.25")),
        D("828.42"), (("RAPID_DISENROLLMENT", True),)),
)

# policy.md's rounding example needs a schedule in cents: 50.50 x 3/12 = 12.625 -> 12.63.
CENTS_SCHEDULE = ("plan_year,region,ma_initial,ma_renewal,pdp_initial,pdp_renewal\n"
                  + "".join(f"2026,{region},50.50,50.50,50.50,50.50\n"
                            for region in ("NATIONAL", "CT_PA_DC", "CA_NJ", "PR_VI")))
ROUNDING = Example(
    "we-cents", "50.50 x 3/12 = 12.625 -> 12.63 (half-even would give 12.62)",
    (enrolled("we-cents", MA_26, date(2026, 10, 1)),),
    (_x("we-cents-0", "START", "INITIAL", 3, "12.63"),), D("12.63"))


def write_inputs(folder: Path, examples: tuple[Example, ...] = EXAMPLES) -> Path:
    """The examples' events and the agents' snapshots as an input folder (JSON Lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    events = [e for example in examples for e in example.events]
    write_records(folder / "enrollments.jsonl", RecordKind.ENROLLMENT,
                  [e for e in events if isinstance(e, Enrollment)], FileFormat.JSONL)
    write_records(folder / "plan-changes.jsonl", RecordKind.PLAN_CHANGE,
                  [e for e in events if isinstance(e, PlanChange)], FileFormat.JSONL)
    write_records(folder / "agent-status.jsonl", RecordKind.AGENT_STATUS, SNAPSHOTS,
                  FileFormat.JSONL)
    return folder


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def check_outputs(folder: Path, examples: tuple[Example, ...] = EXAMPLES) -> None:
    """The outputs in `folder` (JSON Lines) hold exactly each example's adjustments, net and
    trace entries."""
    assignments = _lines(folder / "assignments.jsonl")
    adjustments = _lines(folder / "commission-adjustments.jsonl")
    event_of = {a["decision_id"]: a["source_event_id"] for a in assignments}
    for example in examples:
        mine = [a for a in adjustments if a["member_id"] == example.member_id]
        got = [Expected(event_of[a["decision_id"]], a["kind"], a["agent_id"], a["basis"],
                        a["months"], None if a["amount"] is None else D(a["amount"]))
               for a in mine]
        assert got == list(example.adjustments), f"{example.member_id}: {example.says}"
        net = sum((D(a["amount"]) for a in mine if a["amount"] is not None), D("0.00"))
        assert net == example.net, f"{example.member_id}: net {net} != {example.net}"
        last_event = max(example.events, key=lambda e: e.occurred_at).event_id
        last = max((a for a in assignments if a["source_event_id"] == last_event),
                   key=lambda a: a["revision"])
        trace = {c["rule"]: c["passed"] for c in last["rule_trace"]}
        for rule, passed in example.trace:
            assert trace.get(rule) is passed, f"{example.member_id}: {rule} in {trace}"
