"""One named test row per row of the AOR decision tables of policy.md.

Each row states its situation: the member's position before the event (a new member,
the house account, or an agent of record), the event, and the agents involved. The
agent table below is the cast; every agent is in force a year before the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from processor.domain.agents import event_horizon
from processor.domain.engine import Engine
from processor.domain.model import (
    INTERNAL_CHANNELS,
    Affiliation,
    AgentStatus,
    Channel,
    Enrollment,
    MemberEvent,
    Outcome,
    Reason,
)
from processor.domain.policy import Position, Ruling, rule
from processor.domain.settings import Check, PolicySettings
from tests.builders import (
    MA2_26,
    MA_25,
    agent_table,
    at,
    enrollment,
    plan_change,
    policy_row,
    position,
    snapshot,
    traces_all_five,
)

# The cast. "GHOST" has no snapshot at all.
AGENTS = agent_table(
    snapshot("A"),  # the original agent: external, eligible
    snapshot("B"),  # another external agent, eligible
    snapshot("CC", affiliation=Affiliation.CALL_CENTER),  # external call-center agent
    snapshot("TERM", status=AgentStatus.TERMINATED),
    snapshot("SUSP", status=AgentStatus.SUSPENDED),
    snapshot("UNLIC", licensed=("GA",)),  # not licensed in FL, the member's state
    snapshot("UNCERT", certified=(2024, 2025)),  # not certified for plan year 2026
    snapshot("INT", affiliation=Affiliation.INTERNAL),  # carrier employee
)

DEFAULT = PolicySettings()

# Where the member stands before the event.
NEW_MEMBER: Position | None = None
HOUSE_ACCOUNT = position(None)


def aor(agent_id: str) -> Position:
    return position(agent_id)


DPCL = Channel.DEDICATED_PLAN_CHANGE_LINE
CST = Channel.CUSTOMER_SERVICE_TRANSFER
IFS = Channel.INTERNAL_FIELD_SALES
ITS = Channel.INTERNAL_TELESALES
APP = Channel.AGENT_APPLICATION
ECC = Channel.EXTERNAL_CALL_CENTER


def enrol(writing: str | None) -> MemberEvent:
    return enrollment(writing=writing)


def change(channel: Channel, facilitator: str | None = None) -> MemberEvent:
    return plan_change(channel=channel, facilitator=facilitator, from_plan=MA_25)


@dataclass(frozen=True)
class Row:
    id: str
    before: Position | None
    event: MemberEvent
    # Expected:
    row: str
    outcome: Outcome
    reason: Reason
    aor_after: str | None
    review: bool = False
    settings: PolicySettings = field(default=DEFAULT)


O = Outcome  # noqa: E741 - keeps the table narrow
R = Reason

ROWS: list[Row] = [
    # --- Enrollment (writing agent W) ---
    # E1: the member already has an earlier accepted event -> plan-change table.
    Row("E1-external-writing-agent", aor("A"), enrol("B"),
        "7", O.TRANSFERRED, R.EXTERNAL_AGENT_FACILITATED, "B"),
    Row("E1-external-writing-agent-is-the-aor", aor("A"), enrol("A"),
        "5", O.RETAINED, R.ORIGINAL_AGENT_APPLICATION, "A"),
    Row("E1-external-writing-agent-ineligible", aor("A"), enrol("TERM"),
        "9", O.RETAINED, R.FACILITATOR_INELIGIBLE, "A", review=True),
    Row("E1-external-writing-agent-house-account", HOUSE_ACCOUNT, enrol("B"),
        "1", O.ASSIGNED, R.HOUSE_ACCOUNT_ASSIGNED, "B"),
    Row("E1-internal-writing-agent", aor("A"), enrol("INT"),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A"),
    Row("E1-no-writing-agent", aor("A"), enrol(None),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A"),
    Row("E1-no-writing-agent-aor-ineligible", aor("TERM"), enrol(None),
        "4", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("E1-internal-writing-agent-house-account", HOUSE_ACCOUNT, enrol("INT"),
        "2", O.HOUSE, R.NO_ORIGINAL_AGENT, None),
    # E2-E4: a new member.
    Row("E2-no-writing-agent", NEW_MEMBER, enrol(None),
        "E2", O.HOUSE, R.NO_EXTERNAL_WRITING_AGENT, None),
    Row("E2-internal-writing-agent", NEW_MEMBER, enrol("INT"),
        "E2", O.HOUSE, R.NO_EXTERNAL_WRITING_AGENT, None),
    Row("E3", NEW_MEMBER, enrol("A"),
        "E3", O.ASSIGNED, R.NEW_ENROLLMENT, "A"),
    Row("E3-call-center-writing-agent", NEW_MEMBER, enrol("CC"),
        "E3", O.ASSIGNED, R.NEW_ENROLLMENT, "CC"),
    Row("E4", NEW_MEMBER, enrol("TERM"),
        "E4", O.HOUSE, R.WRITING_AGENT_INELIGIBLE, None, review=True),
    Row("E4-writing-agent-without-snapshot", NEW_MEMBER, enrol("GHOST"),
        "E4", O.HOUSE, R.WRITING_AGENT_INELIGIBLE, None, review=True),
    # --- Plan change (original agent A = current AOR, facilitator F) ---
    Row("row-1", HOUSE_ACCOUNT, change(APP, "B"),
        "1", O.ASSIGNED, R.HOUSE_ACCOUNT_ASSIGNED, "B"),
    Row("row-1-member-unknown-call-center", NEW_MEMBER, change(ECC, "CC"),
        "1", O.ASSIGNED, R.HOUSE_ACCOUNT_ASSIGNED, "CC"),
    Row("row-2", HOUSE_ACCOUNT, change(DPCL),
        "2", O.HOUSE, R.NO_ORIGINAL_AGENT, None),
    Row("row-2-member-unknown-internal-channel", NEW_MEMBER, change(ITS, "INT"),
        "2", O.HOUSE, R.NO_ORIGINAL_AGENT, None),
    Row("row-2-facilitator-ineligible", HOUSE_ACCOUNT, change(APP, "UNLIC"),
        "2", O.HOUSE, R.NO_ORIGINAL_AGENT, None, review=True),
    Row("row-2-facilitator-internal", NEW_MEMBER, change(ECC, "INT"),
        "2", O.HOUSE, R.NO_ORIGINAL_AGENT, None, review=True),
    Row("row-3", aor("A"), change(DPCL),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A"),
    Row("row-3-customer-service-transfer", aor("A"), change(CST, "INT"),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A"),
    Row("row-3-internal-field-sales", aor("A"), change(IFS, "INT"),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A"),
    Row("row-3-internal-telesales-external-facilitator", aor("A"), change(ITS, "B"),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A"),
    Row("row-4", aor("TERM"), change(DPCL),
        "4", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("row-4-original-agent-suspended", aor("SUSP"), change(CST),
        "4", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("row-4-original-agent-not-certified-for-new-plan-year", aor("UNCERT"), change(IFS),
        "4", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("row-4-original-agent-without-snapshot", aor("GHOST"), change(ITS),
        "4", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    # Internal agents are never an AOR: an AOR since hired by the carrier is not retained.
    Row("row-4-original-agent-now-internal", aor("INT"), change(DPCL),
        "4", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("row-5", aor("A"), change(APP, "A"),
        "5", O.RETAINED, R.ORIGINAL_AGENT_APPLICATION, "A"),
    Row("row-5-call-center-is-the-aor", aor("CC"), change(ECC, "CC"),
        "5", O.RETAINED, R.ORIGINAL_AGENT_APPLICATION, "CC"),
    Row("row-6", aor("UNLIC"), change(APP, "UNLIC"),
        "6", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("row-6-original-agent-now-internal", aor("INT"), change(APP, "INT"),
        "6", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None),
    Row("row-7", aor("A"), change(APP, "B"),
        "7", O.TRANSFERRED, R.EXTERNAL_AGENT_FACILITATED, "B"),
    Row("row-7-original-agent-ineligible", aor("TERM"), change(APP, "B"),
        "7", O.TRANSFERRED, R.EXTERNAL_AGENT_FACILITATED, "B"),
    Row("row-8", aor("A"), change(ECC, "CC"),
        "8", O.TRANSFERRED, R.EXTERNAL_CALL_CENTER_FACILITATED, "CC"),
    Row("row-9", aor("A"), change(APP, "UNCERT"),
        "9", O.RETAINED, R.FACILITATOR_INELIGIBLE, "A", review=True),
    Row("row-9-facilitator-internal", aor("A"), change(ECC, "INT"),
        "9", O.RETAINED, R.FACILITATOR_INELIGIBLE, "A", review=True),
    Row("row-9-facilitator-without-snapshot", aor("A"), change(APP, "GHOST"),
        "9", O.RETAINED, R.FACILITATOR_INELIGIBLE, "A", review=True),
    Row("row-10", aor("TERM"), change(APP, "SUSP"),
        "10", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None, review=True),
    Row("row-10-facilitator-internal", aor("UNLIC"), change(ECC, "INT"),
        "10", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None, review=True),
    Row("row-10-original-agent-now-internal", aor("INT"), change(APP, "TERM"),
        "10", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None, review=True),
    # --- Extension rows, reachable only under non-default policy settings ---
    Row("S1", aor("A"), change(ITS),
        "S1", O.RELEASED, R.INTERNAL_CHANNEL_NOT_PROTECTED, None,
        settings=PolicySettings(protected_channels=INTERNAL_CHANNELS - {ITS})),
    Row("S1-no-channel-protected", aor("A"), change(DPCL),
        "S1", O.RELEASED, R.INTERNAL_CHANNEL_NOT_PROTECTED, None,
        settings=PolicySettings(protected_channels=frozenset())),
    Row("S1-other-channels-still-protected", aor("A"), change(DPCL),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "A",
        settings=PolicySettings(protected_channels=INTERNAL_CHANNELS - {ITS})),
    Row("S2", aor("A"), change(APP, "B"),
        "S2", O.RETAINED, R.FACILITATOR_DOES_NOT_TAKE_AOR, "A",
        settings=PolicySettings(facilitator_takes_aor=False)),
    Row("S2-call-center", aor("A"), change(ECC, "CC"),
        "S2", O.RETAINED, R.FACILITATOR_DOES_NOT_TAKE_AOR, "A",
        settings=PolicySettings(facilitator_takes_aor=False)),
    Row("S3", aor("TERM"), change(APP, "B"),
        "S3", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None,
        settings=PolicySettings(facilitator_takes_aor=False)),
    Row("S3-original-agent-now-internal", aor("INT"), change(ECC, "CC"),
        "S3", O.RELEASED, R.ORIGINAL_AGENT_INELIGIBLE, None,
        settings=PolicySettings(facilitator_takes_aor=False)),
    # A check switched off by the settings passes, traced as not applied.
    Row("row-3-certification-not-checked", aor("UNCERT"), change(DPCL),
        "3", O.RETAINED, R.INTERNAL_PLAN_CHANGE_PROTECTED, "UNCERT",
        settings=PolicySettings(eligibility_checks=frozenset(
            {Check.ACTIVE, Check.LICENSED, Check.APPOINTED}))),
]


def decide(row: Row) -> Ruling:
    return rule(row.event, row.before, AGENTS, event_horizon(row.event.recorded_at),
                row.settings)


def test_row_ids_are_unique() -> None:
    assert len({r.id for r in ROWS}) == len(ROWS)


def test_every_policy_row_is_covered() -> None:
    covered = {r.row for r in ROWS}
    assert covered == {"E2", "E3", "E4", *(str(n) for n in range(1, 11)), "S1", "S2", "S3"}
    assert any(r.id.startswith("E1") for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_policy_row(row: Row) -> None:
    ruling = decide(row)
    assert (ruling.outcome, ruling.reason, ruling.agent_of_record_id, ruling.requires_review) \
        == (row.outcome, row.reason, row.aor_after, row.review)
    assert ruling.row == row.row
    assert policy_row(ruling.trace) == row.row
    # The POLICY_ROW entry closes the AOR part of the trace.
    assert ruling.trace[-1].rule == "POLICY_ROW"


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_policy_row_output_fields(row: Row) -> None:
    """previous agent, facilitator and channel as the output reports them."""
    ruling = decide(row)
    event = row.event
    before_aor = row.before.agent_of_record_id if row.before is not None else None
    assert ruling.previous_agent_id == before_aor
    if isinstance(event, Enrollment):
        assert ruling.channel is None  # E1 included: the output channel is null
        assert ruling.facilitating_agent_id == event.writing_agent_id
    else:
        assert ruling.channel == event.channel
        assert ruling.facilitating_agent_id == event.facilitating_agent_id


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_policy_row_traces_the_agents_it_relied_on(row: Row) -> None:
    ruling = decide(row)
    assert ruling.trace
    relied_on = {a for a in (ruling.previous_agent_id, ruling.agent_of_record_id) if a}
    f = ruling.facilitating_agent_id
    if f is not None and (row.row in {"E2", "E3", "E4", "1", "7", "8", "9", "10", "S2", "S3"}
                          or row.review):
        relied_on.add(f)
    for agent_id in relied_on:
        assert traces_all_five(ruling.trace, agent_id), (agent_id, ruling.trace)
    assert {a for a, _ in ruling.looked_at} >= relied_on


ROUTING_FACTS = [
    ("E1-external-writing-agent", ["EXISTING_MEMBER", "WRITING_AGENT_PRESENT",
                                   "WRITING_AGENT_EXTERNAL", "ORIGINAL_AGENT_PRESENT",
                                   "ORIGINAL_AGENT_EXTERNAL",
                                   "INTERNAL_CHANNEL", "SAME_AGENT", "FACILITATOR_EXTERNAL",
                                   "FACILITATOR_TAKES_AOR", "POLICY_ROW"]),
    ("E1-internal-writing-agent", ["EXISTING_MEMBER", "WRITING_AGENT_PRESENT",
                                   "WRITING_AGENT_EXTERNAL", "ORIGINAL_AGENT_PRESENT",
                                   "ORIGINAL_AGENT_EXTERNAL",
                                   "INTERNAL_CHANNEL", "CHANNEL_PROTECTED", "POLICY_ROW"]),
    ("E2-no-writing-agent", ["EXISTING_MEMBER", "WRITING_AGENT_PRESENT", "POLICY_ROW"]),
    ("row-3", ["ORIGINAL_AGENT_PRESENT", "ORIGINAL_AGENT_EXTERNAL", "INTERNAL_CHANNEL",
               "CHANNEL_PROTECTED", "POLICY_ROW"]),
    ("row-9", ["ORIGINAL_AGENT_PRESENT", "ORIGINAL_AGENT_EXTERNAL", "INTERNAL_CHANNEL",
               "SAME_AGENT", "FACILITATOR_EXTERNAL", "POLICY_ROW"]),
]


@pytest.mark.parametrize(("row_id", "facts"), ROUTING_FACTS, ids=[r for r, _ in ROUTING_FACTS])
def test_trace_reads_as_the_explanation(row_id: str, facts: list[str]) -> None:
    """Routing facts are entries of their own, in the order the table walked them."""
    row = next(r for r in ROWS if r.id == row_id)
    trace = decide(row).trace
    checks = {"SNAPSHOT_FOUND", "ACTIVE", "LICENSED", "APPOINTED", "CERTIFIED"}
    assert [c.rule for c in trace if c.rule not in checks] == facts


def test_e1_output_channel_is_null_through_the_engine() -> None:
    """An existing member's enrollment by an external agent: AGENT_APPLICATION path,
    output channel null."""
    engine = Engine(DEFAULT)
    for s in (snapshot("A"), snapshot("B")):
        engine.on_snapshot(s)
    first = engine.on_event(enrollment("enr-1", writing="A", occurred=at(0)))
    assert first.decisions[0].assignment.outcome is Outcome.ASSIGNED
    second = engine.on_event(enrollment("enr-2", plan=MA2_26, writing="B", occurred=at(5)))
    out = second.decisions[0].assignment
    assert (out.outcome, out.reason, out.agent_of_record_id, out.channel) == (
        Outcome.TRANSFERRED, Reason.EXTERNAL_AGENT_FACILITATED, "B", None)
    assert out.previous_agent_id == "A"
    assert policy_row(out.rule_trace) == "7"
