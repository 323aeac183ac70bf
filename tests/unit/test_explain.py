"""`explain`: a member's AOR history built from what the real Engine emits.

The dispute scenario: agent A enrolls the member; an internal plan change a month later
keeps A as AOR (row 3), a rapid disenrollment (its STOP recovers A's first START); a late
snapshot then says A was terminated before the change, so the change is corrected to
RELEASED (row 4) with a REVERSAL of A's new START. A is left with nothing.
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from rich.console import Console

from processor.domain.engine import Engine
from processor.domain.model import (
    AdjustmentKind,
    AgentStatus,
    AgentStatusSnapshot,
    Channel,
    Decision,
    MemberEvent,
    Outcome,
    Reason,
)
from processor.domain.settings import PolicySettings
from processor.explain import (
    MemberNotFoundError,
    Records,
    explain,
    explanation_from_json,
    render_json,
    render_text,
)
from processor.explain.build import Explanation
from tests.builders import MA_26, MAPD_26, at, enrollment, plan_change, snapshot

D = Decimal
A_0 = snapshot("A", snapshot_id="A-0", effective=at(-1000))
ENR = enrollment("enr-1", plan=MA_26, writing="A", occurred=at(0))  # E3: START 694.00
CHG = plan_change("chg-1", channel=Channel.DEDICATED_PLAN_CHANGE_LINE, to_plan=MAPD_26,
                  effective=date(2026, 2, 1), occurred=at(80))  # row 3: STOP -694, START 636.17
# Recorded on day 100: A was terminated on day 50, before the plan change.
A_TERM = snapshot("A", snapshot_id="A-term", effective=at(50), recorded=at(100),
                  status=AgentStatus.TERMINATED)
OTHER = enrollment("enr-other", member="M2", plan=MA_26, writing="A", occurred=at(1))


def run(*inputs: AgentStatusSnapshot | MemberEvent) -> list[Decision]:
    """Feed the inputs to the real Engine in arrival order; every decision it emits."""
    engine = Engine(PolicySettings())
    out: list[Decision] = []
    for item in inputs:
        result = (engine.on_snapshot(item) if isinstance(item, AgentStatusSnapshot)
                  else engine.on_event(item))
        assert result.rejection is None
        out.extend(result.decisions)
    return out


def records(decisions: list[Decision], snapshots: tuple[AgentStatusSnapshot, ...] | None,
            events: tuple[MemberEvent, ...] | None) -> Records:
    return Records(tuple(d.assignment for d in decisions),
                   tuple(a for d in decisions for a in d.adjustments), snapshots, events)


@pytest.fixture(scope="module")
def dispute() -> Explanation:
    decisions = run(A_0, ENR, OTHER, CHG, A_TERM)
    return explain("M1", records(decisions, (A_0, A_TERM), (ENR, OTHER, CHG)),
                   source="test scenario")


def test_lists_every_revision_in_history_order(dispute: Explanation) -> None:
    assert [s.label for s in dispute.steps] == ["enr-1 r0", "chg-1 r0", "chg-1 r1"]
    assert [s.standing for s in dispute.steps] == [True, False, True]
    first, protected, corrected = (s.assignment for s in dispute.steps)
    assert (first.outcome, first.agent_of_record_id) == (Outcome.ASSIGNED, "A")
    assert (protected.outcome, protected.reason, protected.agent_of_record_id) == (
        Outcome.RETAINED, Reason.INTERNAL_PLAN_CHANGE_PROTECTED, "A")
    assert (corrected.outcome, corrected.reason, corrected.agent_of_record_id) == (
        Outcome.RELEASED, Reason.ORIGINAL_AGENT_INELIGIBLE, None)
    assert corrected.supersedes_decision_id == protected.decision_id
    assert dispute.steps[2].event == CHG  # the input event, from the inputs
    summary = dispute.summary
    assert (summary.events, summary.decisions, summary.corrections) == (2, 3, 1)
    assert summary.current_agent_of_record_id is None
    assert summary.released_by == ("chg-1 r1",)


def test_the_failed_trace_entry_names_the_agent_and_snapshot(dispute: Explanation) -> None:
    corrected = dispute.steps[2]
    failed = [(c.rule, c.agent_id, c.snapshot_id, c.detail) for c in corrected.failed_eligibility]
    assert failed == [("ACTIVE", "A", "A-term", "status TERMINATED")]
    # The full trace is kept, top to bottom, ending with the row that decided.
    rules = [c.rule for c in corrected.assignment.rule_trace]
    assert rules[:3] == ["ORIGINAL_AGENT_PRESENT", "SNAPSHOT_FOUND", "ACTIVE"]
    assert "row 4" in next(c.detail for c in corrected.assignment.rule_trace
                           if c.rule == "POLICY_ROW")
    assert dispute.steps[1].failed_eligibility == ()


def test_snapshots_relied_on_with_the_late_one_marked(dispute: Explanation) -> None:
    uses = {u.snapshot_id: u for u in dispute.snapshots}
    assert set(uses) == {"A-0", "A-term"}
    assert uses["A-0"].relied_on_by == ("enr-1 r0", "chg-1 r0")
    assert uses["A-0"].snapshot == A_0
    assert not uses["A-0"].late
    term = uses["A-term"]
    assert term.relied_on_by == ("chg-1 r1",)
    assert term.late and term.lag == timedelta(days=50)
    assert term.recorded_after_event_of == ("chg-1 r1",)  # it changed the past
    assert [s.snapshot_ids for s in dispute.steps] == [("A-0",), ("A-0",), ("A-term",)]


def test_the_correction_shows_what_changed_and_the_reversal(dispute: Explanation) -> None:
    correction, = dispute.corrections
    assert correction.step.label == "chg-1 r1"
    assert correction.previous is not None and correction.previous.label == "chg-1 r0"
    changes = {c.field: (c.before, c.after) for c in correction.changes}
    assert changes["outcome"] == ("RETAINED", "RELEASED")
    assert changes["reason"] == ("INTERNAL_PLAN_CHANGE_PROTECTED", "ORIGINAL_AGENT_INELIGIBLE")
    assert changes["agent_of_record_id"] == ("A", "none")
    assert changes["snapshot of A"] == ("A-0", "A-term")
    assert changes["trace ACTIVE A"] == ("pass: status ACTIVE", "FAIL: status TERMINATED")
    assert "trace LICENSED A" not in changes  # same finding from another snapshot
    reversal, = correction.reversals
    start = next(a for a in dispute.steps[1].adjustments if a.kind is AdjustmentKind.START)
    assert (reversal.kind, reversal.agent_id, reversal.amount, reversal.reverses_adjustment_id) \
        == (AdjustmentKind.REVERSAL, "A", D("-636.17"), start.adjustment_id)
    assert correction.new_adjustments == ()
    assert any("A-term" in cause for cause in correction.causes)


def test_adjustments_and_the_net_per_agent(dispute: Explanation) -> None:
    kinds = [(a.kind.value, a.amount) for a in dispute.adjustments]
    assert kinds == [("START", D("694.00")), ("STOP", D("-694.00")), ("START", D("636.17")),
                     ("REVERSAL", D("-636.17"))]
    total, = dispute.totals
    # Net adds every amount, the STOP's recovery included.
    assert (total.agent_id, total.starts, total.recoveries, total.reversals, total.stops,
            total.net) == ("A", D("1330.17"), D("-694.00"), D("-636.17"), 1, D("0.00"))
    assert dispute.summary.net == D("0.00")


def test_json_round_trips(dispute: Explanation) -> None:
    text = render_json(dispute)
    document = json.loads(text)
    assert [d["label"] for d in document["decisions"]] == ["enr-1 r0", "chg-1 r0", "chg-1 r1"]
    assert document["decisions"][2]["failed_eligibility_checks"][0]["rule"] == "ACTIVE"
    assert document["net_by_agent"] == [{"agent_id": "A", "starts": "1330.17",
                                         "recoveries": "-694.00", "reversals": "-636.17",
                                         "stops": 1, "net": "0.00"}]
    assert document["corrections"][0]["reversals"][0]["amount"] == "-636.17"
    assert {s["snapshot_id"]: s["late"] for s in document["snapshots"]} == {
        "A-0": False, "A-term": True}
    back = explanation_from_json(text)
    assert back == dispute
    assert render_json(back) == text


def test_text_rendering_reads_as_the_explanation(dispute: Explanation) -> None:
    buffer = io.StringIO()
    render_text(dispute, Console(file=buffer, width=120))
    out = buffer.getvalue()
    for expected in ("AOR history of member M1", "chg-1 r1", "RELEASED ORIGINAL_AGENT_INELIGIBLE",
                     "FAIL", "status TERMINATED", "A-term", "LATE", "Correction chg-1 r1",
                     "REVERSAL", "-636.17", "Net per agent", "-694.00",
                     "RAPID_DISENROLLMENT", "whole START is recovered"):
        assert expected in out, expected


def test_a_late_event_is_ordered_by_occurred_at_and_named_as_the_cause() -> None:
    # The plan change arrives first (house account: no AOR yet), then the enrollment
    # that occurred before it: the change is corrected to the enrollment's agent.
    late_enr = enrollment("enr-1", plan=MA_26, writing="A", occurred=at(0), recorded=at(90))
    decisions = run(A_0, CHG, late_enr)
    assert [d.assignment.source_event_id for d in decisions] == ["chg-1", "enr-1", "chg-1"]
    expl = explain("M1", records(decisions, (A_0,), (CHG, late_enr)))
    assert [s.label for s in expl.steps] == ["enr-1 r0", "chg-1 r0", "chg-1 r1"]
    correction, = expl.corrections
    assert correction.causes == (
        "late event enr-1 (ENROLLMENT, occurred 2025-11-01T12:00:00.000Z) recorded "
        "2026-01-30T12:00:00.000Z",)
    assert expl.summary.current_agent_of_record_id == "A"


def test_without_agent_status_the_snapshot_ids_still_show() -> None:
    decisions = run(A_0, ENR, CHG, A_TERM)
    expl = explain("M1", records(decisions, None, None))
    assert not expl.snapshots_available and expl.events is None
    assert {(u.snapshot_id, u.snapshot) for u in expl.snapshots} == {
        ("A-0", None), ("A-term", None)}
    assert explanation_from_json(render_json(expl)) == expl


def test_an_unknown_member_names_how_many_the_source_holds() -> None:
    decisions = run(A_0, ENR, OTHER)
    with pytest.raises(MemberNotFoundError, match="holds decisions for 2 members"):
        explain("nobody", records(decisions, None, None))
