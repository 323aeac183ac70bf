"""Corrections: late snapshots and late events re-decide, supersede, reverse, idempotently."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from processor.domain import ids
from processor.domain.engine import Engine
from processor.domain.member import new_member, on_snapshot
from processor.domain.model import (
    AdjustmentKind,
    AgentStatusSnapshot,
    Basis,
    Channel,
    Decision,
    MemberEvent,
    Outcome,
    Reason,
)
from processor.domain.settings import PolicySettings
from tests.builders import MA_25, MA_26, MAPD_26, PDP_26, at, enrollment, plan_change, snapshot

DEFAULT = PolicySettings()
START, STOP, REVERSAL = AdjustmentKind.START, AdjustmentKind.STOP, AdjustmentKind.REVERSAL
D = Decimal

ENR = enrollment("enr-1", plan=MA_26, writing="A", occurred=at(0))  # E3: A, START 694.00
# Row 3, a month after ENR took effect: a rapid disenrollment (the STOP recovers all 694.00)
# in the initial enrollment year (the START pays INITIAL, 11 months: 636.17).
CHG = plan_change("chg-1", channel=Channel.DEDICATED_PLAN_CHANGE_LINE, to_plan=MAPD_26,
                  effective=date(2026, 2, 1), occurred=at(80))
# Recorded at day 100, in force since day -10: A was never appointed in FL.
NOT_APPOINTED = snapshot("A", snapshot_id="A-late", effective=at(-10), recorded=at(100),
                         appointed=("GA",))


def engine(*inputs: AgentStatusSnapshot | MemberEvent,
           settings: PolicySettings = DEFAULT) -> Engine:
    e = Engine(settings)
    e.on_snapshot(snapshot("A", snapshot_id="A-0", effective=at(-1000)))
    e.on_snapshot(snapshot("B", snapshot_id="B-0", effective=at(-1000)))
    for item in inputs:
        result = (e.on_snapshot(item) if isinstance(item, AgentStatusSnapshot)
                  else e.on_event(item))
        assert result.rejection is None
    return e


def first_decisions() -> tuple[Engine, Decision, Decision]:
    e = engine()
    enr, = e.on_event(ENR).decisions
    chg, = e.on_event(CHG).decisions
    return e, enr, chg


def test_late_snapshot_supersedes_and_reverses() -> None:
    e, enr, chg = first_decisions()
    assert enr.assignment.outcome is Outcome.ASSIGNED
    assert chg.assignment.outcome is Outcome.RETAINED

    out = e.on_snapshot(NOT_APPOINTED).decisions
    assert [d.assignment.source_event_id for d in out] == ["enr-1", "chg-1"]
    enr1, chg1 = (d.assignment for d in out)

    # The enrollment: now E4, house account, review; its START reversed.
    assert (enr1.revision, enr1.decision_id, enr1.supersedes_decision_id) == (
        1, ids.decision_id("enr-1", 1), enr.assignment.decision_id)
    assert (enr1.outcome, enr1.reason, enr1.agent_of_record_id, enr1.requires_review) == (
        Outcome.HOUSE, Reason.WRITING_AGENT_INELIGIBLE, None, True)
    reversal, = out[0].adjustments
    assert (reversal.kind, reversal.agent_id, reversal.amount, reversal.reverses_adjustment_id) \
        == (REVERSAL, "A", D("-694.00"), enr.adjustments[0].adjustment_id)
    assert reversal.decision_id == enr1.decision_id

    # The plan change: no original agent any more (row 2); its STOP and START reversed, in
    # the order they were emitted; a reversed STOP carries the negated recovery.
    assert (chg1.revision, chg1.supersedes_decision_id) == (1, chg.assignment.decision_id)
    assert (chg1.outcome, chg1.reason, chg1.agent_of_record_id) == (
        Outcome.HOUSE, Reason.NO_ORIGINAL_AGENT, None)
    stop_rev, start_rev = out[1].adjustments
    old_stop, old_start = chg.adjustments
    assert old_stop.amount == D("-694.00")
    assert (stop_rev.kind, stop_rev.amount, stop_rev.reverses_adjustment_id) == (
        REVERSAL, D("694.00"), old_stop.adjustment_id)
    assert (stop_rev.plan, stop_rev.effective_date, stop_rev.months, stop_rev.basis) == (
        old_stop.plan, old_stop.effective_date, 12, Basis.INITIAL)
    assert (start_rev.kind, start_rev.amount, start_rev.reverses_adjustment_id) == (
        REVERSAL, D("-636.17"), old_start.adjustment_id)
    # decided_as_of is the horizon: the snapshot's recorded_at, later than the events'.
    assert enr1.decided_as_of == chg1.decided_as_of == at(100)
    assert e.members["M1"].agent_of_record_id is None


def test_superseding_decision_puts_reversals_before_new_adjustments() -> None:
    """A late snapshot makes the facilitator eligible: the retained AOR becomes a transfer."""
    e = engine(snapshot("C", snapshot_id="C-0", effective=at(-1000), licensed=("GA",)))
    e.on_event(ENR)
    chg_b = plan_change("chg-b", channel=Channel.AGENT_APPLICATION, facilitator="C",
                        to_plan=MAPD_26, effective=date(2026, 2, 1), occurred=at(80))
    old, = e.on_event(chg_b).decisions
    assert old.assignment.reason is Reason.FACILITATOR_INELIGIBLE
    assert [(a.kind, a.agent_id) for a in old.adjustments] == [(STOP, "A"), (START, "A")]
    licensed = snapshot("C", snapshot_id="C-1", effective=at(-100), recorded=at(90))
    new, = e.on_snapshot(licensed).decisions
    assert new.assignment.outcome is Outcome.TRANSFERRED
    # The STOP of A is unchanged: kept, not re-emitted. A's START is reversed, C's added.
    assert [(a.kind, a.agent_id, a.amount) for a in new.adjustments] == [
        (REVERSAL, "A", D("-636.17")), (START, "C", D("636.17"))]
    assert [a.adjustment_id for a in new.adjustments] == [
        ids.adjustment_id(new.assignment.decision_id, i) for i in range(2)]


def test_unchanged_redecision_emits_nothing() -> None:
    e, _, _ = first_decisions()
    # A new snapshot in force for both events, but nothing the decisions use changed.
    more_states = snapshot("A", snapshot_id="A-more", effective=at(-10), recorded=at(100),
                           licensed=("FL", "GA", "WA"))
    assert e.on_snapshot(more_states).decisions == ()
    # The member's state records the snapshot its decisions now rest on.
    used = {sid for entry in e.members["M1"].history for agent, sid in entry.looked_at
            if agent == "A"}
    assert used == {"A-more"}


def test_snapshot_not_in_force_at_any_decision_emits_nothing() -> None:
    e, _, _ = first_decisions()
    later = snapshot("A", snapshot_id="A-future", effective=at(200), recorded=at(100),
                     appointed=())
    assert e.on_snapshot(later).decisions == ()


def test_applying_the_same_snapshot_twice_emits_nothing_the_second_time() -> None:
    e, _, _ = first_decisions()
    assert len(e.on_snapshot(NOT_APPOINTED).decisions) == 2
    state = e.members["M1"]
    again = e.on_snapshot(NOT_APPOINTED)
    assert again.decisions == () and again.rejection is None and again.duplicate
    assert e.members["M1"] == state
    # Idempotent at the member too, not only because the table holds the snapshot already.
    step = on_snapshot(state, NOT_APPOINTED, e.agents, DEFAULT)
    assert step.decisions == ()
    assert e.apply_snapshot(NOT_APPOINTED) == ()


def test_correction_of_a_correction_is_revision_2() -> None:
    e, enr, _ = first_decisions()
    e.on_snapshot(NOT_APPOINTED)
    fixed = snapshot("A", snapshot_id="A-fixed", effective=at(-10), recorded=at(110))
    out = e.on_snapshot(fixed).decisions
    enr2, chg2 = out
    assert (enr2.assignment.revision, enr2.assignment.supersedes_decision_id) == (
        2, ids.decision_id("enr-1", 1))
    assert enr2.assignment.outcome is Outcome.ASSIGNED
    # Revision 1 stood by nothing, so revision 2 only adds the START again.
    assert [(a.kind, a.amount) for a in enr2.adjustments] == [(START, D("694.00"))]
    assert enr2.adjustments[0].adjustment_id != enr.adjustments[0].adjustment_id
    # The STOP recovers the START of the enrollment's revision 2 (the one it now stops).
    assert [(a.kind, a.agent_id, a.amount) for a in chg2.adjustments] == [
        (STOP, "A", D("-694.00")), (START, "A", D("636.17"))]
    assert e.members["M1"].agent_of_record_id == "A"
    assert all(d.assignment.decided_as_of == at(110) for d in out)


def test_late_event_earlier_in_history_redecides_later_events() -> None:
    e = engine()
    # The plan change arrives first: an unknown member, no original agent (row 2).
    chg0, = e.on_event(CHG).decisions
    assert chg0.assignment.reason is Reason.NO_ORIGINAL_AGENT and chg0.adjustments == ()
    # The enrollment that happened before it is recorded late.
    late_enr = enrollment("enr-1", plan=MA_26, writing="A", occurred=at(0), recorded=at(90))
    first, chg1 = e.on_event(late_enr).decisions
    assert first.assignment.source_event_id == "enr-1" and first.assignment.revision == 0
    assert first.assignment.decided_as_of == at(90)
    a = chg1.assignment
    assert (a.source_event_id, a.revision, a.supersedes_decision_id) == (
        "chg-1", 1, chg0.assignment.decision_id)
    assert (a.outcome, a.reason, a.previous_agent_id, a.agent_of_record_id) == (
        Outcome.RETAINED, Reason.INTERNAL_PLAN_CHANGE_PROTECTED, "A", "A")
    assert [(x.kind, x.agent_id, x.amount) for x in chg1.adjustments] == [
        (STOP, "A", D("-694.00")), (START, "A", D("636.17"))]
    # Horizon of the re-decision: max(chg recorded_at = day 80, trigger recorded_at = 90).
    assert a.decided_as_of == at(90)


def test_late_event_that_changes_nothing_later_emits_only_its_own_decision() -> None:
    e = engine()
    # Unlike plan type: INITIAL whether or not the late enrollment makes 2026 the member's
    # initial enrollment year.
    chg = plan_change("chg-1", channel=Channel.AGENT_APPLICATION, facilitator="B",
                      from_plan=MA_26, to_plan=PDP_26, effective=date(2026, 2, 1),
                      occurred=at(80))
    e.on_event(chg)
    late_house = enrollment("enr-1", plan=MA_26, writing=None, occurred=at(0),
                            recorded=at(90))
    only, = e.on_event(late_house).decisions
    assert only.assignment.source_event_id == "enr-1"
    assert only.assignment.outcome is Outcome.HOUSE


def test_late_event_after_everything_redecides_nothing() -> None:
    e, _, _ = first_decisions()
    later = plan_change("chg-2", channel=Channel.INTERNAL_TELESALES, to_plan=MA_26,
                        effective=date(2026, 3, 1), occurred=at(120))
    assert [d.assignment.source_event_id for d in e.on_event(later).decisions] == ["chg-2"]


WINDOW_400 = PolicySettings(correction_window_days=400)
OLD = enrollment("enr-old", plan=MA_25, effective=date(2025, 1, 1), writing="A",
                 occurred=at(-300))


@pytest.mark.parametrize(("days_late", "window", "redecided"), [
    (399, 400, True),
    (400, 400, True),  # occurred_at == trigger.recorded_at - window: still inside
    (401, 400, False),
    (450, 400, False),
    (450, 500, True),
], ids=["inside", "on-the-edge", "just-outside", "outside", "wider-window"])
def test_snapshot_correction_window(days_late: int, window: int, redecided: bool) -> None:
    settings = PolicySettings(correction_window_days=window)
    e = engine(OLD, settings=settings)
    terminated = snapshot("A", snapshot_id="A-term", effective=at(-310),
                          recorded=at(-300 + days_late), appointed=())
    out = e.on_snapshot(terminated).decisions
    assert bool(out) is redecided
    if redecided:
        assert out[0].assignment.reason is Reason.WRITING_AGENT_INELIGIBLE


def test_late_event_does_not_redecide_events_older_than_the_window() -> None:
    e = engine(OLD, settings=WINDOW_400)
    # A plan change that happened before OLD, recorded 401 days after OLD happened.
    older = plan_change("chg-older", channel=Channel.AGENT_APPLICATION, facilitator="B",
                        to_plan=MA_25, effective=date(2025, 1, 1), occurred=at(-305),
                        recorded=at(101))
    out = e.on_event(older).decisions
    # Every accepted event gets its first decision; OLD is outside the window.
    assert [d.assignment.source_event_id for d in out] == ["chg-older"]
    history = [entry.event.event_id for entry in e.members["M1"].history]
    assert history == ["chg-older", "enr-old"]


def test_late_event_redecides_events_inside_the_window_only() -> None:
    e = engine(OLD, plan_change("chg-new", channel=Channel.DEDICATED_PLAN_CHANGE_LINE,
                                to_plan=MAPD_26, occurred=at(10)), settings=WINDOW_400)
    older = plan_change("chg-older", channel=Channel.AGENT_APPLICATION, facilitator="B",
                        to_plan=MA_25, effective=date(2025, 1, 1), occurred=at(-305),
                        recorded=at(101))
    out = e.on_event(older).decisions
    # enr-old (day -300) is outside the window of day 101; chg-new (day 10) is inside but
    # still sees A as AOR through enr-old's unchanged decision: nothing to correct.
    assert [d.assignment.source_event_id for d in out] == ["chg-older"]


def test_decided_as_of_is_the_events_recorded_at_when_later_than_the_trigger() -> None:
    """Out of order: a snapshot recorded before the event arrives after it."""
    e = engine()
    enr = enrollment("enr-1", writing="A", occurred=at(0), recorded=at(50))
    first, = e.on_event(enr).decisions
    assert first.assignment.decided_as_of == at(50)
    earlier = snapshot("A", snapshot_id="A-susp", effective=at(-5), recorded=at(40),
                       appointed=())
    fix, = e.on_snapshot(earlier, settle_later=True).decisions
    assert fix.assignment.decided_as_of == at(50)
    assert fix.assignment.outcome is Outcome.HOUSE


def test_member_level_fold_is_pure() -> None:
    """on_snapshot on a member with no decisions leaves it as it is."""
    e = engine()
    state = new_member("M9")
    step = on_snapshot(state, NOT_APPOINTED, e.agents, DEFAULT)
    assert step.state is state and step.decisions == ()


def test_a_snapshot_delivered_again_after_a_later_correction_emits_nothing() -> None:
    """Redelivery of an old snapshot (a producer retry, a re-read topic) must not take
    the member back to what that snapshot alone said."""
    e, _, _ = first_decisions()
    assert e.on_snapshot(NOT_APPOINTED).decisions  # day 100: A never appointed
    fixed = snapshot("A", snapshot_id="A-fixed", effective=at(-10), recorded=at(110))
    assert e.on_snapshot(fixed).decisions  # day 110: corrected back
    state = e.members["M1"]
    for settle_later in (False, True):
        again = e.on_snapshot(NOT_APPOINTED, settle_later=settle_later)
        assert again.decisions == () and again.rejection is None
        assert again.duplicate
        assert e.members["M1"] is state
    assert state.agent_of_record_id == "A"
