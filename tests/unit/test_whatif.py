"""The what-if diff, its CSV files and its report, on small hand-made histories.

The main case: a member whose original agent A keeps the AOR on a Dedicated Plan Change
line call under the bulletin (row 3, RETAINED with a STOP and a START for A) loses it
when the scenario no longer protects that channel (row S1, RELEASED: a STOP, no START).
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from processor.domain.engine import Engine
from processor.domain.model import (
    INTERNAL_CHANNELS,
    AdjustmentKind,
    AgentStatus,
    AgentStatusSnapshot,
    AorAssignment,
    Basis,
    Channel,
    CommissionAdjustment,
    EventType,
    MemberEvent,
    Outcome,
    Reason,
)
from processor.domain.settings import ALL_CHECKS, Check, PolicySettings
from processor.files.replay import merge_key
from processor.whatif.csv_out import (
    AGENTS_HEADER,
    MEMBERS_HEADER,
    REASONS_HEADER,
    summary_json,
    write_csvs,
)
from processor.whatif.diff import AgentDiff, RunOutputs, compare, standing
from processor.whatif.load import BaselineUnavailableError, MemorySink, dump_baseline
from processor.whatif.report import render_report
from processor.whatif.run import scenario_settings
from processor.whatif.svg import agent_deltas
from tests.builders import MA_26, MAPD_26, T0, at, enrollment, plan_change, snapshot

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
MAR_26 = date(2026, 3, 1)
DEFAULT = PolicySettings()
UNPROTECTED_DPC = PolicySettings(
    protected_channels=INTERNAL_CHANNELS - {Channel.DEDICATED_PLAN_CHANGE_LINE})


def history() -> list[AgentStatusSnapshot | MemberEvent]:
    """M1: enrolled by A, then a like plan change through the Dedicated Plan Change line
    effective March 2026. M2: enrolled by B, nothing else (unaffected)."""
    return [
        snapshot("A"),
        snapshot("B"),
        enrollment("enr-1", member="M1", writing="A", plan=MA_26),
        plan_change("chg-1", member="M1", channel=Channel.DEDICATED_PLAN_CHANGE_LINE,
                    from_plan=MA_26, to_plan=MAPD_26, effective=MAR_26, occurred=at(60)),
        enrollment("enr-2", member="M2", writing="B", plan=MA_26, occurred=at(1)),
    ]


def run(policy: PolicySettings, inputs: list[AgentStatusSnapshot | MemberEvent],
        ) -> RunOutputs:
    """The engine in arrival order, collected as the file replay's memory sink does."""
    engine, sink = Engine(policy), MemorySink()
    for record in sorted(inputs, key=merge_key):
        result = (engine.on_snapshot(record) if isinstance(record, AgentStatusSnapshot)
                  else engine.on_event(record))
        assert result.rejection is None, result.rejection
        sink.decisions(result.decisions)
    return sink.outputs()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def headline_cards(root: ET.Element) -> dict[str, str]:
    """The report's headline cards: label -> value, as text."""
    cards: dict[str, str] = {}
    for card in root.iter(f"{XHTML}div"):
        label, value = card.find(f"{XHTML}dt"), card.find(f"{XHTML}dd")
        if card.get("class") == "card" and label is not None and value is not None:
            cards["".join(label.itertext())] = "".join(value.itertext())
    return cards


# -- the scenario of the issue ---------------------------------------------------------


def test_unprotected_channel_releases_the_aor_and_the_agent_loses_the_start() -> None:
    baseline, scenario = run(DEFAULT, history()), run(UNPROTECTED_DPC, history())
    base_change = next(a for a in baseline.assignments if a.source_event_id == "chg-1")
    scen_change = next(a for a in scenario.assignments if a.source_event_id == "chg-1")
    assert (base_change.outcome, base_change.reason) == (
        Outcome.RETAINED, Reason.INTERNAL_PLAN_CHANGE_PROTECTED)
    assert (scen_change.outcome, scen_change.reason) == (
        Outcome.RELEASED, Reason.INTERNAL_CHANNEL_NOT_PROTECTED)

    diff = compare(baseline, scenario)

    # Only M1 changes: AOR A -> house, outcome and reason of chg-1, and the START is gone
    # (a like change effective March 2026 in the initial enrollment year: 694.00 x 10/12 =
    # 578.33). Both sides keep the STOP, a rapid disenrollment that recovers all 694.00.
    assert [m.member_id for m in diff.members] == ["M1"]
    m1 = diff.members[0]
    assert (m1.baseline_aor, m1.scenario_aor) == ("A", None)
    assert m1.changed == ("aor", "outcome", "reason", "adjustments")
    assert (m1.baseline_net, m1.scenario_net, m1.delta) == (
        Decimal("578.33"), Decimal("0.00"), Decimal("-578.33"))
    assert [c.event_id for c in m1.event_changes] == ["chg-1"]
    assert m1.event_changes[0].describe() == (
        "RETAINED INTERNAL_PLAN_CHANGE_PROTECTED -> RELEASED INTERNAL_CHANNEL_NOT_PROTECTED")

    agents = {a.agent_id: a for a in diff.agents}
    assert set(agents) == {"A", "B"}
    assert (agents["A"].baseline_net, agents["A"].scenario_net, agents["A"].delta) == (
        Decimal("578.33"), Decimal("0.00"), Decimal("-578.33"))
    assert (agents["A"].members_gained, agents["A"].members_lost) == (0, 1)
    assert (agents["B"].delta, agents["B"].members_gained, agents["B"].members_lost) == (
        Decimal("0.00"), 0, 0)

    reasons = {(r.outcome, r.reason): (r.baseline_count, r.scenario_count)
               for r in diff.reasons}
    assert reasons == {
        ("ASSIGNED", "NEW_ENROLLMENT"): (2, 2),
        ("RETAINED", "INTERNAL_PLAN_CHANGE_PROTECTED"): (1, 0),
        ("RELEASED", "INTERNAL_CHANNEL_NOT_PROTECTED"): (0, 1),
    }
    assert (diff.members_compared, diff.members_changed, diff.aor_changes) == (2, 1, 1)
    assert (diff.events_compared, diff.events_changed) == (3, 1)
    assert (diff.baseline_total, diff.scenario_total, diff.delta) == (
        Decimal("1272.33"), Decimal("694.00"), Decimal("-578.33"))
    assert diff.baseline_versions == (DEFAULT.policy_version,)
    assert diff.scenario_versions == (UNPROTECTED_DPC.policy_version,)
    # The timeline counts latest revisions by month of effective date.
    by_period = {(p.period, p.outcome): (p.baseline, p.scenario) for p in diff.timeline}
    assert by_period[("2026-01", "ASSIGNED")] == (2, 2)
    assert by_period[("2026-03", "RETAINED")] == (1, 0)
    assert by_period[("2026-03", "RELEASED")] == (0, 1)
    assert by_period[("2026-02", "ASSIGNED")] == (0, 0)  # months in between are filled
    assert diff.period_unit == "month"


def test_csv_files_hold_the_rows_and_add_up_to_the_totals(tmp_path: Path) -> None:
    diff = compare(run(DEFAULT, history()), run(UNPROTECTED_DPC, history()))
    counts = write_csvs(diff, tmp_path)
    assert counts == {"members.csv": 1, "agents.csv": 2, "reasons.csv": 3}

    members = read_csv(tmp_path / "members.csv")
    assert tuple(members[0]) == MEMBERS_HEADER
    assert members == [{
        "member_id": "M1", "baseline_aor": "A", "scenario_aor": "",
        "changed": "aor;outcome;reason;adjustments", "events_changed": "1",
        "baseline_net": "578.33", "scenario_net": "0.00", "delta": "-578.33"}]

    agents = read_csv(tmp_path / "agents.csv")
    assert tuple(agents[0]) == AGENTS_HEADER
    assert agents == [
        {"agent_id": "A", "baseline_net": "578.33", "scenario_net": "0.00",
         "delta": "-578.33", "members_gained": "0", "members_lost": "1",
         "baseline_recoveries": "-694.00", "scenario_recoveries": "-694.00"},
        {"agent_id": "B", "baseline_net": "694.00", "scenario_net": "694.00",
         "delta": "0.00", "members_gained": "0", "members_lost": "0",
         "baseline_recoveries": "0.00", "scenario_recoveries": "0.00"},
    ]
    # The recoveries columns come last: the earlier columns keep their positions.
    assert AGENTS_HEADER[:6] == ("agent_id", "baseline_net", "scenario_net", "delta",
                                 "members_gained", "members_lost")
    # Per-agent rows add up to the totals.
    assert sum(Decimal(a["baseline_net"]) for a in agents) == diff.baseline_total
    assert sum(Decimal(a["scenario_net"]) for a in agents) == diff.scenario_total
    assert sum(Decimal(a["delta"]) for a in agents) == Decimal("-578.33")

    reasons = read_csv(tmp_path / "reasons.csv")
    assert tuple(reasons[0]) == REASONS_HEADER
    assert [(r["outcome"], r["reason"], r["delta"]) for r in reasons] == [
        ("ASSIGNED", "NEW_ENROLLMENT", "0"),
        ("RELEASED", "INTERNAL_CHANNEL_NOT_PROTECTED", "1"),
        ("RETAINED", "INTERNAL_PLAN_CHANGE_PROTECTED", "-1"),
    ]

    summary = summary_json(diff, scenario_settings(UNPROTECTED_DPC), top=20)
    assert summary["members_changed"] == 1
    assert summary["net_delta"] == "-578.33"
    assert (summary["baseline_recoveries"], summary["scenario_recoveries"],
            summary["recoveries_delta"]) == ("-694.00", "-694.00", "0.00")
    assert summary["changed_fields"] == {"events": 0, "aor": 1, "outcome": 1, "reason": 1,
                                         "adjustments": 1}
    json.dumps(summary)  # serialisable as is


def test_same_settings_change_nothing() -> None:
    diff = compare(run(DEFAULT, history()), run(DEFAULT, history()))
    assert diff.members == ()
    assert diff.delta == 0
    assert diff.events_changed == 0
    assert all(a.delta == 0 for a in diff.agents)
    assert diff.top_agents(20) == ()


def test_facilitator_not_taking_the_aor_keeps_the_original_agent() -> None:
    inputs: list[AgentStatusSnapshot | MemberEvent] = [
        snapshot("A"), snapshot("B"),
        enrollment("enr-1", member="M1", writing="A"),
        plan_change("chg-1", member="M1", channel=Channel.AGENT_APPLICATION, facilitator="B",
                    from_plan=MA_26, to_plan=MAPD_26, effective=MAR_26, occurred=at(60)),
    ]
    diff = compare(run(DEFAULT, inputs),
                   run(PolicySettings(facilitator_takes_aor=False), inputs))
    (m1,) = diff.members
    assert (m1.baseline_aor, m1.scenario_aor) == ("B", "A")
    agents = {a.agent_id: a for a in diff.agents}
    assert (agents["A"].members_gained, agents["A"].members_lost) == (1, 0)
    assert (agents["B"].members_gained, agents["B"].members_lost) == (0, 1)
    # B's START moves to A: the member's net is unchanged, the adjustments are not.
    assert m1.delta == 0
    assert "adjustments" in m1.changed
    assert agents["A"].delta == -agents["B"].delta != 0


# -- recoveries: what STOPs take back, as it stands ------------------------------------

# A agent-status correction recorded after the plan change: A was terminated the day
# before the enrollment, so under the default checks the enrollment and the change are
# re-decided to the house, reversing A's START, recovering STOP and second START.
LATE_TERMINATION = snapshot("A", snapshot_id="A-late", effective=at(-1), recorded=at(90),
                            status=AgentStatus.TERMINATED)
NO_ACTIVE_CHECK = PolicySettings(eligibility_checks=frozenset(ALL_CHECKS) - {Check.ACTIVE})


def test_recoveries_are_the_stops_amounts_on_each_side() -> None:
    diff = compare(run(DEFAULT, history()), run(UNPROTECTED_DPC, history()))
    # Enrolled 2026-01-01, changed effective 2026-03-01: a rapid disenrollment, whose STOP
    # recovers the whole START on both sides (RETAINED and RELEASED both stop A).
    assert (diff.baseline_recoveries, diff.scenario_recoveries, diff.recoveries_delta) == (
        Decimal("-694.00"), Decimal("-694.00"), Decimal("0.00"))
    agents = {a.agent_id: a for a in diff.agents}
    assert (agents["A"].baseline_recoveries, agents["A"].scenario_recoveries) == (
        Decimal("-694.00"), Decimal("-694.00"))
    assert (agents["B"].baseline_recoveries, agents["B"].scenario_recoveries) == (
        Decimal("0.00"), Decimal("0.00"))
    # Recoveries are part of the nets, not added to them.
    assert (diff.baseline_total, diff.scenario_total) == (Decimal("1272.33"),
                                                         Decimal("694.00"))


def test_a_correction_reversing_a_recovering_stop_cancels_its_recovery(
        tmp_path: Path) -> None:
    inputs = [*history(), LATE_TERMINATION]
    baseline, scenario = run(DEFAULT, inputs), run(NO_ACTIVE_CHECK, inputs)
    stop = next(a for a in baseline.adjustments if a.kind is AdjustmentKind.STOP)
    undo = next(a for a in baseline.adjustments
                if a.reverses_adjustment_id == stop.adjustment_id)
    assert (stop.amount, undo.kind, undo.amount) == (
        Decimal("-694.00"), AdjustmentKind.REVERSAL, Decimal("694.00"))
    assert not any(a.kind is AdjustmentKind.REVERSAL for a in scenario.adjustments)

    diff = compare(baseline, scenario)

    # Baseline: the STOP's -694.00 and its reversal's +694.00 leave nothing recovered (the
    # START's reversal is no recovery). Scenario: no ACTIVE check, no correction.
    assert (diff.baseline_recoveries, diff.scenario_recoveries, diff.recoveries_delta) == (
        Decimal("0.00"), Decimal("-694.00"), Decimal("-694.00"))
    (a,) = (a for a in diff.agents if a.agent_id == "A")
    assert (a.baseline_net, a.scenario_net) == (Decimal("0.00"), Decimal("578.33"))
    assert (a.baseline_recoveries, a.scenario_recoveries, a.recoveries_delta) == (
        Decimal("0.00"), Decimal("-694.00"), Decimal("-694.00"))

    write_csvs(diff, tmp_path)
    rows = {r["agent_id"]: r for r in read_csv(tmp_path / "agents.csv")}
    assert (rows["A"]["baseline_recoveries"], rows["A"]["scenario_recoveries"]) == (
        "0.00", "-694.00")
    summary = summary_json(diff, scenario_settings(NO_ACTIVE_CHECK), top=20)
    assert (summary["baseline_recoveries"], summary["scenario_recoveries"],
            summary["recoveries_delta"]) == ("0.00", "-694.00", "-694.00")
    json.dumps(summary)

    html = render_report(diff, scenario_settings(NO_ACTIVE_CHECK), {"input": "in"})
    root = ET.fromstring(html.split("\n", 1)[1])
    cards = headline_cards(root)
    assert cards["STOP recoveries delta"] == "\u2212694.00 USD"
    assert cards["Baseline recoveries"] == "0.00 USD"
    assert cards["Scenario recoveries"] == "\u2212694.00 USD"
    agents_table = next(t for t in root.iter(f"{XHTML}table")
                        if "recoveries" in "".join(t.itertext()))
    header = ["".join(th.itertext()) for th in agents_table.iter(f"{XHTML}th")]
    assert header[4:7] == ["baseline recoveries", "scenario recoveries", "recoveries delta"]
    (row,) = agents_table.iter(f"{XHTML}tbody")
    cells = ["".join(td.itertext()) for td in row.iter(f"{XHTML}td")]
    assert cells[0] == "A"
    assert cells[4:7] == ["0.00", "\u2212694.00", "\u2212694.00"]
    # The agents chart draws the recoveries as their own, labelled series.
    chart = next(s for s in root.iter(f"{SVG}svg") if s.get("id") == "chart-agents")
    recovery_bars = [r for r in chart.iter(f"{SVG}rect")
                     if "recovery" in (r.get("class") or "").split()]
    assert len(recovery_bars) == 1
    tip = recovery_bars[0].find(f"{SVG}title")
    assert tip is not None and tip.text == (
        "A: STOP recoveries \u2212694.00 USD (baseline 0.00, scenario \u2212694.00)")
    assert "STOP recoveries" in "".join(chart.itertext())  # legend and description


def test_recoveries_follow_reversal_chains_to_a_stop() -> None:
    start = adjustment("s1", amount="694.00")
    stop = adjustment("p1", kind=AdjustmentKind.STOP, amount="-694.00")
    undo = adjustment("r1", kind=AdjustmentKind.REVERSAL, amount="694.00", reverses="p1")
    redo = adjustment("r2", kind=AdjustmentKind.REVERSAL, amount="-694.00", reverses="r1")
    # A second election reverses a START: a lower net, but nothing recovered.
    election = adjustment("r3", kind=AdjustmentKind.REVERSAL, amount="-694.00",
                          reverses="s1")
    # A STOP dated in December recovers nothing; a reversal of an unknown target is not
    # known to reverse a STOP.
    nothing = adjustment("p2", kind=AdjustmentKind.STOP, amount=None)
    orphan = adjustment("r9", kind=AdjustmentKind.REVERSAL, amount="5.00", reverses="gone")

    def recovered(*adjustments: CommissionAdjustment) -> Decimal:
        diff = compare(RunOutputs((assignment("e1"),), adjustments), RunOutputs((), ()))
        (a,) = diff.agents
        assert a.baseline_recoveries == diff.baseline_recoveries
        return diff.baseline_recoveries

    assert recovered(start, stop) == Decimal("-694.00")
    assert recovered(start, stop, undo) == Decimal("0.00")
    assert recovered(start, stop, undo, redo) == Decimal("-694.00")
    assert recovered(start, election, nothing, orphan) == Decimal("0.00")
    # Emission order does not matter: chains resolve over the whole side.
    assert recovered(redo, undo, stop, start) == Decimal("-694.00")


# -- hand-made records: revisions, history order, reversals -----------------------------


def assignment(event_id: str, *, member: str = "M1", revision: int = 0,
               outcome: Outcome = Outcome.ASSIGNED, reason: Reason = Reason.NEW_ENROLLMENT,
               aor: str | None = "A", occurred_days: float = 0.0,
               recorded_days: float | None = None, version: str = "v1") -> AorAssignment:
    occurred = T0 + timedelta(days=occurred_days)
    decided = T0 + timedelta(days=recorded_days if recorded_days is not None
                             else occurred_days)
    return AorAssignment(
        decision_id=f"{event_id}/{revision}", revision=revision,
        supersedes_decision_id=f"{event_id}/{revision - 1}" if revision else None,
        source_event_id=event_id, source_event_type=EventType.ENROLLMENT, member_id=member,
        member_state="FL", plan=MA_26, effective_date=date(2026, 1, 1), occurred_at=occurred,
        decided_as_of=decided, outcome=outcome, reason=reason, previous_agent_id=None,
        agent_of_record_id=aor, facilitating_agent_id=None, channel=None,
        requires_review=False, rule_trace=(), policy_version=version)


def adjustment(adjustment_id: str, *, member: str = "M1", agent: str = "A",
               kind: AdjustmentKind = AdjustmentKind.START, amount: str | None = "100.00",
               reverses: str | None = None, version: str = "v1") -> CommissionAdjustment:
    return CommissionAdjustment(
        adjustment_id=adjustment_id, decision_id="d", member_id=member, agent_id=agent,
        kind=kind, basis=None if kind is AdjustmentKind.STOP else Basis.INITIAL, plan=MA_26,
        effective_date=date(2026, 1, 1), months=12, annual_amount=None,
        amount=None if amount is None else Decimal(amount), schedule_region="NATIONAL",
        reverses_adjustment_id=reverses, policy_version=version)


def test_latest_revision_and_history_order_decide_the_final_aor() -> None:
    # Emitted out of history order, with a correction of the last event to B.
    baseline = RunOutputs(
        assignments=(
            assignment("e2", aor="A", occurred_days=5),
            assignment("e1", aor="C", occurred_days=1),
            assignment("e2", revision=1, aor="B", occurred_days=5, recorded_days=30),
        ),
        adjustments=())
    scenario = RunOutputs(
        assignments=(assignment("e1", aor="C", occurred_days=1),
                     assignment("e2", aor="B", occurred_days=5)),
        adjustments=())
    diff = compare(baseline, scenario)
    assert diff.members == ()  # final AOR B on both sides, same outcome and reason
    # Same occurred_at: the earlier recorded_at (first decision's horizon) comes first.
    tie = RunOutputs(
        assignments=(assignment("z-late", aor="LATE", recorded_days=2),
                     assignment("a-early", aor="EARLY", recorded_days=1),
                     assignment("a-early", revision=1, aor="EARLY", recorded_days=9)),
        adjustments=())
    house = RunOutputs(assignments=(assignment("z-late", aor=None, recorded_days=2),
                                    assignment("a-early", aor="EARLY", recorded_days=1)),
                       adjustments=())
    (m1,) = compare(tie, house).members
    assert (m1.baseline_aor, m1.scenario_aor) == ("LATE", None)


def test_standing_adjustments_cancel_reversals_and_restore_reversed_reversals() -> None:
    start = adjustment("s1", amount="100.00")
    reversal = adjustment("r1", kind=AdjustmentKind.REVERSAL, amount="-100.00",
                          reverses="s1")
    undo = adjustment("r2", kind=AdjustmentKind.REVERSAL, amount="100.00", reverses="r1")
    assert standing([start, reversal]) == {}
    assert set(standing([start, reversal, undo])) == set(standing([start]))
    # A reversal of something not in the list stands as itself.
    orphan = adjustment("r9", kind=AdjustmentKind.REVERSAL, amount="-5.00", reverses="gone")
    assert sum(standing([orphan]).values()) == 1
    # Same standing adjustments under other ids and versions: no change.
    ids_differ = RunOutputs((assignment("e1"),), (replace(start, adjustment_id="x",
                                                          policy_version="v2"),))
    diff = compare(RunOutputs((assignment("e1"),), (start, reversal, undo)), ids_differ)
    assert diff.members == ()
    assert diff.delta == 0


def test_events_decided_on_one_side_only_are_changes() -> None:
    baseline = RunOutputs((assignment("e1"), assignment("e2", occurred_days=3)), ())
    scenario = RunOutputs((assignment("e1"),), (), dead_letters=1)
    (m1,) = compare(baseline, scenario).members
    assert m1.changed[0] == "events"
    assert m1.event_changes[0].scenario is None
    assert m1.event_changes[0].describe().endswith("-> not decided")


# -- the report -------------------------------------------------------------------------


def test_report_is_well_formed_self_contained_and_has_both_charts() -> None:
    diff = compare(run(DEFAULT, history()), run(UNPROTECTED_DPC, history()))
    html = render_report(diff, scenario_settings(UNPROTECTED_DPC),
                         {"input": "in", "baseline": "out/base"})
    root = ET.fromstring(html.split("\n", 1)[1])  # well-formed XML after the doctype
    svgs = root.findall(f".//{SVG}svg")
    assert [s.get("id") for s in svgs] == ["chart-outcomes", "chart-agents"]
    for svg in svgs:
        assert svg.get("role") == "img"
        title = svg.find(f"{SVG}title")
        assert title is not None and title.text
        assert svg.find(f"{SVG}desc") is not None
        bars = [r for r in svg.iter(f"{SVG}rect") if "bar" in (r.get("class") or "")]
        assert bars and all(r.find(f"{SVG}title") is not None for r in bars)
        assert any("axis-title" in (t.get("class") or "") for t in svg.iter(f"{SVG}text"))
    # Agent A loses 578.33 (a loss bar); the headline shows the delta and both versions.
    agent_bars = [r for r in svgs[1].iter(f"{SVG}rect") if "loss" in (r.get("class") or "")]
    assert len(agent_bars) == 1
    text = "".join(root.itertext())
    assert "\u2212578.33" in text
    # Recoveries are their own figures: A's STOP takes back 694.00 on both sides, so the
    # agents chart has no recoveries bar.
    cards = headline_cards(root)
    assert (cards["Baseline recoveries"], cards["Scenario recoveries"],
            cards["STOP recoveries delta"]) == ("\u2212694.00 USD", "\u2212694.00 USD",
                                                "0.00 USD")
    assert not [r for r in svgs[1].iter(f"{SVG}rect") if "recovery" in (r.get("class") or "")]
    assert DEFAULT.policy_version in text and UNPROTECTED_DPC.policy_version in text
    # Nothing external: no scripts, links, images or remote URLs.
    assert root.find(f".//{XHTML}script") is None
    assert root.find(f".//{XHTML}link") is None
    assert "http://" not in html.replace('xmlns="http://www.w3.org/', "")
    assert "https://" not in html
    assert "error" not in html.lower()


def test_report_escapes_every_value() -> None:
    evil = "<script>alert('x')</script>&"
    svg = agent_deltas([AgentDiff(evil, Decimal("10.00"), Decimal("0.00"), 0, 1)])
    assert "<script" not in svg
    ET.fromstring(svg)  # still well-formed
    diff = compare(RunOutputs((assignment("e1", member=evil, aor=evil),), ()),
                   RunOutputs((assignment("e1", member=evil, aor=None),), ()))
    html = render_report(diff, {"protected_channels": evil}, {"input": evil})
    assert "<script" not in html
    ET.fromstring(html.split("\n", 1)[1])


def test_empty_comparison_still_renders() -> None:
    html = render_report(compare(RunOutputs((), ()), RunOutputs((), ())), {}, {})
    root = ET.fromstring(html.split("\n", 1)[1])
    assert len(root.findall(f".//{SVG}svg")) == 2


def test_baseline_from_topics_refuses_an_incomplete_dump(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from processor.config import Settings
    from processor.kafka import dump

    reports = iter([
        dump.DumpReport({"assignments.jsonl": 3}, incomplete=("aor.assignments.v1[2]",)),
        dump.DumpReport({"assignments.jsonl": 3}),
    ])
    monkeypatch.setattr(dump, "dump_topics", lambda *args, **kwargs: next(reports))
    with pytest.raises(BaselineUnavailableError, match=r"incomplete.*assignments.v1\[2\]"):
        dump_baseline(Settings(), tmp_path)
    assert dump_baseline(Settings(), tmp_path) == tmp_path
