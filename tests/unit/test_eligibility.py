"""One named row per eligibility check, and the bitemporal as-of lookup, row by row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from processor.domain.agents import ALL_IDS, AgentTable, event_horizon, snapshot_horizon
from processor.domain.eligibility import assess
from processor.domain.model import Affiliation, AgentStatus, AgentStatusSnapshot, Channel
from processor.domain.policy import rule
from processor.domain.settings import Check, PolicySettings
from tests.builders import (
    CHECKS,
    MA_25,
    PDP_26,
    agent_table,
    at,
    checks_of,
    enrollment,
    plan_change,
    position,
    snapshot,
    traces_all_five,
)

DEFAULT = PolicySettings()
WHEN = at(0)  # the decision's time t
HORIZON = event_horizon(at(0))


@dataclass(frozen=True)
class EligibilityRow:
    id: str
    snapshots: tuple[AgentStatusSnapshot, ...]
    failing: frozenset[str]  # the checks expected to fail; the rest pass
    plan_year: int = 2026
    member_state: str = "FL"


ROWS = [
    EligibilityRow("all-checks-pass", (snapshot("A"),), frozenset()),
    EligibilityRow("all-checks-pass-call-center",
                   (snapshot("A", affiliation=Affiliation.CALL_CENTER),), frozenset()),
    # Eligibility says nothing about affiliation: an internal agent can pass all five.
    EligibilityRow("all-checks-pass-internal",
                   (snapshot("A", affiliation=Affiliation.INTERNAL),), frozenset()),
    EligibilityRow("SNAPSHOT_FOUND-no-snapshot-at-all", (), frozenset(CHECKS)),
    EligibilityRow("SNAPSHOT_FOUND-only-snapshot-effective-after-t",
                   (snapshot("A", effective=at(1)),), frozenset(CHECKS)),
    EligibilityRow("SNAPSHOT_FOUND-only-snapshot-recorded-after-horizon",
                   (snapshot("A", effective=at(-30), recorded=at(1)),), frozenset(CHECKS)),
    EligibilityRow("ACTIVE-suspended", (snapshot("A", status=AgentStatus.SUSPENDED),),
                   frozenset({"ACTIVE"})),
    EligibilityRow("ACTIVE-terminated", (snapshot("A", status=AgentStatus.TERMINATED),),
                   frozenset({"ACTIVE"})),
    EligibilityRow("LICENSED-state-not-licensed", (snapshot("A", licensed=("GA", "AL")),),
                   frozenset({"LICENSED"})),
    EligibilityRow("LICENSED-no-licenses", (snapshot("A", licensed=()),),
                   frozenset({"LICENSED"})),
    EligibilityRow("APPOINTED-state-not-appointed", (snapshot("A", appointed=("GA",)),),
                   frozenset({"APPOINTED"})),
    EligibilityRow("LICENSED-and-APPOINTED-other-member-state", (snapshot("A"),),
                   frozenset({"LICENSED", "APPOINTED"}), member_state="WA"),
    EligibilityRow("CERTIFIED-not-for-the-plan-year", (snapshot("A", certified=(2025,)),),
                   frozenset({"CERTIFIED"})),
    EligibilityRow("CERTIFIED-for-the-plan-year-only", (snapshot("A", certified=(2026,)),),
                   frozenset()),
    EligibilityRow("CERTIFIED-earlier-plan-year", (snapshot("A", certified=(2026,)),),
                   frozenset({"CERTIFIED"}), plan_year=2025),
    EligibilityRow("every-check-fails",
                   (snapshot("A", status=AgentStatus.TERMINATED, licensed=(), appointed=(),
                             certified=()),),
                   frozenset(CHECKS) - {"SNAPSHOT_FOUND"}),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_eligibility_check(row: EligibilityRow) -> None:
    table = agent_table(*row.snapshots)
    result = assess(table, "A", WHEN, HORIZON, row.member_state, row.plan_year, DEFAULT)
    assert [c.rule for c in result.checks] == list(CHECKS)  # all five, in order
    assert {c.rule for c in result.checks if not c.passed} == row.failing
    assert result.eligible is (not row.failing)
    assert all(c.agent_id == "A" for c in result.checks)
    if "SNAPSHOT_FOUND" in row.failing:
        assert result.snapshot is None
        assert all(c.snapshot_id is None for c in result.checks)
        assert [c.detail for c in result.checks[1:]] == ["no snapshot"] * 4
        assert not result.external and not result.internal
    else:
        assert result.snapshot is not None
        assert all(c.snapshot_id == result.snapshot.snapshot_id for c in result.checks)


def test_failed_check_details_name_the_values() -> None:
    table = agent_table(snapshot("A", status=AgentStatus.SUSPENDED, licensed=("GA",),
                                 appointed=("GA",), certified=(2025,)))
    checks = assess(table, "A", WHEN, HORIZON, "FL", 2026, DEFAULT).checks
    details = {c.rule: c.detail for c in checks}
    assert details["ACTIVE"] == "status SUSPENDED"
    assert "FL not in licensed_states [GA]" in details["LICENSED"]
    assert "FL not in appointed_states [GA]" in details["APPOINTED"]
    assert "plan year 2026 not in certified_plan_years [2025]" in details["CERTIFIED"]


def test_check_switched_off_by_settings_passes_and_says_so() -> None:
    settings = PolicySettings(eligibility_checks=frozenset({Check.ACTIVE, Check.LICENSED,
                                                            Check.APPOINTED}))
    table = agent_table(snapshot("A", certified=()))
    result = assess(table, "A", WHEN, HORIZON, "FL", 2026, settings)
    certified = result.checks[-1]
    assert certified.rule == "CERTIFIED" and certified.passed
    assert certified.detail.startswith("not applied under these policy settings")
    assert result.eligible


def test_snapshot_found_cannot_be_switched_off() -> None:
    settings = PolicySettings(eligibility_checks=frozenset())
    result = assess(AgentTable(), "A", WHEN, HORIZON, "FL", 2026, settings)
    assert not result.eligible
    assert not any(c.passed for c in result.checks)


def test_certified_is_checked_for_the_plan_year_being_enrolled_into() -> None:
    """A 2025 -> 2026 plan change: the agent must be certified for 2026, not 2025."""
    table = agent_table(snapshot("A", certified=(2024, 2025)))
    event = plan_change(channel=Channel.DEDICATED_PLAN_CHANGE_LINE, from_plan=MA_25,
                        to_plan=PDP_26)
    ruling = rule(event, position("A", plan=MA_25), table, HORIZON, DEFAULT)
    certified = next(c for c in checks_of(ruling.trace, "A") if c.rule == "CERTIFIED")
    assert not certified.passed
    assert "plan year 2026" in certified.detail
    assert ruling.agent_of_record_id is None


def test_every_agent_looked_at_has_its_five_checks_in_order() -> None:
    """A transfer looks at A and at F: both blocks of five, A's first."""
    table = agent_table(snapshot("A"), snapshot("B", status=AgentStatus.TERMINATED))
    event = plan_change(channel=Channel.AGENT_APPLICATION, facilitator="B")
    trace = rule(event, position("A"), table, HORIZON, DEFAULT).trace
    assert traces_all_five(trace, "A") and traces_all_five(trace, "B")
    assert [c.agent_id for c in trace if c.rule in CHECKS] == ["A"] * 5 + ["B"] * 5


def test_missing_snapshot_is_traced_for_each_agent() -> None:
    """An enrollment by an unknown agent: five failed checks, four with "no snapshot"."""
    ruling = rule(enrollment(writing="GHOST"), None, AgentTable(), HORIZON, DEFAULT)
    checks = checks_of(ruling.trace, "GHOST")
    assert [(c.rule, c.passed) for c in checks] == [(r, False) for r in CHECKS]
    assert checks[0].detail.startswith("no snapshot in force at")
    assert [c.detail for c in checks[1:]] == ["no snapshot"] * 4


# ------------------------------------------------------------ bitemporal as-of lookup


@dataclass(frozen=True)
class AsOfRow:
    id: str
    snapshots: tuple[AgentStatusSnapshot, ...]
    at: datetime
    horizon: tuple[datetime, str]
    expected: str | None


def s(sid: str, effective: float, recorded: float) -> AgentStatusSnapshot:
    return snapshot("A", snapshot_id=sid, effective=at(effective), recorded=at(recorded))


AS_OF_ROWS = [
    AsOfRow("greatest-effective-at-not-after-t",
            (s("s1", -30, -30), s("s2", -10, -10), s("s3", 5, 5)),
            at(0), event_horizon(at(10)), "s2"),
    AsOfRow("effective-exactly-at-t-is-in-force",
            (s("s1", -30, -30), s("s2", 0, 0)), at(0), event_horizon(at(0)), "s2"),
    AsOfRow("nothing-effective-yet", (s("s1", 1, -5),), at(0), event_horizon(at(0)), None),
    AsOfRow("recorded-after-horizon-is-invisible",
            (s("s1", -30, -30), s("s2", -10, 3)), at(0), event_horizon(at(0)), "s1"),
    AsOfRow("backdated-correction-visible-once-recorded",
            (s("s1", -30, -30), s("s2", -10, 3)), at(0), event_horizon(at(3)), "s2"),
    AsOfRow("late-but-older-effective-does-not-win",
            (s("s1", -10, -10), s("s2", -20, -1)), at(0), event_horizon(at(0)), "s1"),
    AsOfRow("tie-on-effective-at-goes-to-later-recorded-at",
            (s("s1", -10, -10), s("s2", -10, -5)), at(0), event_horizon(at(0)), "s2"),
    AsOfRow("tie-on-effective-at-later-recorded-after-horizon",
            (s("s1", -10, -10), s("s2", -10, -5)), at(0), event_horizon(at(-6)), "s1"),
    AsOfRow("tie-on-both-goes-to-greater-snapshot-id",
            (s("s-b", -10, -10), s("s-a", -10, -10)), at(0), event_horizon(at(0)), "s-b"),
    AsOfRow("event-horizon-sees-snapshots-recorded-at-the-same-instant",
            (s("s1", -30, -30), s("s2", -10, 0)), at(0), event_horizon(at(0)), "s2"),
    AsOfRow("snapshot-horizon-stops-at-its-own-id",
            (s("s1", -30, -30), s("s3", -10, 0), s("s2", -20, 0)),
            at(0), (at(0), "s2"), "s2"),
    AsOfRow("snapshot-horizon-includes-smaller-ids-at-the-same-instant",
            (s("s1", -30, -30), s("s2", -10, 0), s("s3", -20, 0)),
            at(0), (at(0), "s3"), "s2"),
]


@pytest.mark.parametrize("row", AS_OF_ROWS, ids=[r.id for r in AS_OF_ROWS])
def test_bitemporal_as_of_lookup(row: AsOfRow) -> None:
    table = agent_table(*row.snapshots)
    found = table.in_force("A", row.at, row.horizon)
    assert (found.snapshot_id if found else None) == row.expected


def test_lookup_does_not_depend_on_insertion_order() -> None:
    snaps = [s("s1", -30, -30), s("s2", -10, -5), s("s3", -10, -10), s("s4", -1, 2)]
    forward, backward = agent_table(*snaps), agent_table(*reversed(snaps))
    for day in range(-40, 5):
        for seen in range(-40, 5):
            h = event_horizon(at(seen))
            a, b = forward.in_force("A", at(day), h), backward.in_force("A", at(day), h)
            assert a == b


def test_table_ignores_a_repeated_snapshot_id() -> None:
    table = AgentTable()
    assert table.add(s("s1", -1, -1))
    assert not table.add(s("s1", -1, -1))
    assert len(table) == 1


def test_snapshot_horizon_orders_after_earlier_instants_and_before_events() -> None:
    snap = s("s1", 0, 0)
    assert snapshot_horizon(snap) == (at(0), "s1")
    assert event_horizon(at(0)) == (at(0), ALL_IDS) > snapshot_horizon(snap)


def test_memoised_assessments_follow_the_settings_and_the_snapshot() -> None:
    from processor.domain import eligibility

    table = agent_table(snapshot("A", status=AgentStatus.SUSPENDED))
    strict = assess(table, "A", WHEN, HORIZON, "FL", 2026, DEFAULT)
    assert assess(table, "A", WHEN, HORIZON, "FL", 2026, DEFAULT) is strict  # memoised
    lenient = assess(table, "A", WHEN, HORIZON, "FL", 2026,
                     PolicySettings(eligibility_checks=frozenset({Check.LICENSED})))
    assert not strict.eligible and lenient.eligible
    other = agent_table(snapshot("A"))  # an equal-named snapshot of another table
    assert assess(other, "A", WHEN, HORIZON, "FL", 2026, DEFAULT).eligible
    assert assess(table, "A", WHEN, HORIZON, "GA", 2026, DEFAULT).checks != strict.checks
    for n in range(eligibility.MEMO_LIMIT + 10):
        assess(table, "A", WHEN, HORIZON, "FL", n, DEFAULT)
    assert len(eligibility._MEMO) <= eligibility.MEMO_LIMIT
