"""An explanation for a person at a terminal: rich panels and tables, top to bottom.

Order: the summary (who holds the AOR now, what was released, what awaits review), each
decision in history order with its whole rule trace, the snapshots relied on, the
corrections, and the commission adjustments with the net per agent. Colour is only
emphasis: every pass/fail, late mark and change is also written out in words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from processor.domain.model import (
    AdjustmentKind,
    AorAssignment,
    CommissionAdjustment,
    Outcome,
    PlanChange,
    PlanRef,
)
from processor.explain.build import (
    Correction,
    Explanation,
    SnapshotUse,
    Step,
    is_eligibility,
)

_OUTCOME_STYLE = {
    Outcome.ASSIGNED: "green",
    Outcome.RETAINED: "green",
    Outcome.TRANSFERRED: "yellow",
    Outcome.RELEASED: "red",
    Outcome.HOUSE: "blue",
}


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _plan(plan: PlanRef) -> str:
    return f"{plan.plan_id} ({plan.plan_type.value} {plan.plan_year})"


def _agent(agent_id: str | None) -> str:
    return agent_id if agent_id is not None else "none (house)"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _lag(lag: timedelta) -> str:
    days = lag.total_seconds() / 86400
    return f"{days:.1f} d" if days >= 1 else f"{lag.total_seconds() / 3600:.1f} h"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _facts(rows: list[tuple[str, RenderableType]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in rows:
        grid.add_row(name, value)
    return grid


def _summary(expl: Explanation) -> Panel:
    s = expl.summary
    last = [step for step in expl.steps if step.standing][-1]
    rows: list[tuple[str, RenderableType]] = [
        ("source", expl.source),
        ("history", f"{_count(s.events, 'event')}, {_count(s.decisions, 'decision')}, "
                    f"{_count(s.corrections, 'correction')}"),
        ("agent of record now", Text.assemble(
            (_agent(s.current_agent_of_record_id), "bold"),
            f"  ({s.current_outcome} {s.current_reason}, {last.label})")),
        ("AOR released by", ", ".join(s.released_by) or "none"),
        ("awaiting review", ", ".join(s.open_reviews) or "none"),
        ("net commissions", (f"{_money(s.net)} USD  (" + ", ".join(
            f"{t.agent_id} {_money(t.net)}" for t in expl.totals) + ")")
         if expl.totals else "no adjustments"),
        ("policy version", ", ".join(s.policy_versions)),
    ]
    if expl.dead_letters:
        rows.append(("dead letters", f"{len(expl.dead_letters)} input(s) of this member "
                                     "were not processed (listed at the end)"))
    return Panel(_facts(rows), title=f"AOR history of member {expl.member_id} "
                                     f"({expl.member_state})", title_align="left")


def _trace(a: AorAssignment) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("agent", no_wrap=True)
    table.add_column("snapshot", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for n, check in enumerate(a.rule_trace, start=1):
        if check.passed:
            result = Text("pass", "green")
        else:  # a failed eligibility entry, or a routing fact that does not hold
            result = Text("FAIL", "bold red" if is_eligibility(check) else "")
        rule = Text(check.rule, "bold" if check.rule == "POLICY_ROW" else "")
        table.add_row(str(n), rule, result, check.agent_id or "", check.snapshot_id or "",
                      check.detail)
    return table


def _adjustments(adjustments: tuple[CommissionAdjustment, ...], expl: Explanation,
                 with_decision: bool = False) -> Table:
    """The adjustments; `with_decision` (the member's whole list) adds the decision and
    leaves months and annual amount to the per-decision tables."""
    label_of = {s.assignment.decision_id: s.label for s in expl.steps}
    adj_label = {a.adjustment_id: f"{a.kind.value} of {label_of.get(a.decision_id, '?')}"
                 for a in expl.adjustments}
    reversing = any(a.reverses_adjustment_id for a in adjustments)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    if with_decision:
        table.add_column("decision", no_wrap=True)
    for name in ("kind", "agent", "basis", "plan", "effective"):
        table.add_column(name, no_wrap=True)
    if not with_decision:
        table.add_column("months", justify="right", no_wrap=True)
        table.add_column("annual", justify="right", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    if reversing:
        table.add_column("reverses", overflow="fold", min_width=12)
    for a in adjustments:
        kind = Text(a.kind.value, "magenta" if a.kind is AdjustmentKind.REVERSAL else "")
        row: list[RenderableType] = [
            kind, a.agent_id, a.basis.value if a.basis else "-",
            f"{a.plan.plan_id}\n{a.plan.plan_type.value} {a.plan.plan_year}",
            a.effective_date.isoformat()]
        if with_decision:
            row.insert(0, label_of.get(a.decision_id, a.decision_id))
        else:
            row += ["-" if a.months is None else str(a.months), _money(a.annual_amount)]
        row.append(_money(a.amount))
        if reversing:
            reverses = a.reverses_adjustment_id
            row.append("" if reverses is None else adj_label.get(reverses, reverses))
        table.add_row(*row)
    return table


def _step(step: Step, expl: Explanation) -> Panel:
    a = step.assignment
    style = _OUTCOME_STYLE.get(a.outcome, "")
    superseded = "" if step.standing else "  (superseded)"
    title = Text.assemble(f"{step.index}. {step.label}  {a.source_event_type.value}  ",
                          (f"{a.outcome.value} {a.reason.value}", f"bold {style}"),
                          superseded)
    rows: list[tuple[str, RenderableType]] = [
        ("agent of record", f"{_agent(a.previous_agent_id)} -> {_agent(a.agent_of_record_id)}"),
        ("facilitator", a.facilitating_agent_id or "none"),
        ("channel", a.channel.value if a.channel else "none (enrollment)"),
        ("plan", f"{_plan(a.plan)} effective {a.effective_date.isoformat()}"),
    ]
    event = step.event
    if isinstance(event, PlanChange) and event.from_plan is not None:
        rows.append(("from plan", _plan(event.from_plan)))
    rows.append(("occurred", _when(a.occurred_at)
                 + (f", recorded {_when(event.recorded_at)}" if event is not None else "")))
    rows.append(("decided as of", _when(a.decided_as_of)))
    rows.append(("requires review", Text("YES", "bold yellow") if a.requires_review else "no"))
    rows.append(("decision", a.decision_id + (f", supersedes {a.supersedes_decision_id}"
                                              if a.supersedes_decision_id else "")))
    rows.append(("policy version", a.policy_version))
    failed = step.failed_eligibility
    if failed:
        rows.append(("not eligible", Text("; ".join(
            f"{c.agent_id} {c.rule}: {c.detail}" for c in failed), "red")))
    parts: list[RenderableType] = [_facts(rows), Text("rule trace", "bold underline"),
                                   _trace(a)]
    if step.adjustments:
        parts += [Text("commission adjustments", "bold underline"),
                  _adjustments(step.adjustments, expl)]
    return Panel(Group(*parts), title=title, title_align="left", border_style=style)


def _snapshots(expl: Explanation) -> RenderableType:
    if not expl.snapshots:
        return Text("No decision of this member relied on an agent-status snapshot.")
    table = Table(title="Agent-status snapshots relied on", title_justify="left",
                  box=box.SIMPLE_HEAD, caption_justify="left",
                  caption=f"LATE: recorded more than {_lag(expl.late_after)} after it took "
                          "effect.  *: recorded after that decision's event occurred.")
    table.add_column("snapshot\nagent", no_wrap=True)
    table.add_column("effective\nrecorded", no_wrap=True)
    table.add_column("lag", no_wrap=True)
    table.add_column("affiliation\nstatus", no_wrap=True)
    table.add_column("licensed\nappointed\ncertified", overflow="fold", min_width=11,
                     ratio=1)
    table.add_column("relied on by", overflow="fold", min_width=17, ratio=1)
    for use in expl.snapshots:
        table.add_row(*_snapshot_row(use))
    if expl.snapshots_available:
        return table
    return Group(table, Text("The source holds no agent-status records (give --inputs): "
                             "only the snapshot ids from the traces are shown.", "yellow"))


def _snapshot_row(use: SnapshotUse) -> list[RenderableType]:
    users = "\n".join(label + ("*" if label in use.recorded_after_event_of else "")
                      for label in use.relied_on_by)
    s = use.snapshot
    ids = f"{use.snapshot_id}\n{use.agent_id}"
    if s is None:
        return [ids, "not in the source", "", "", "", users]
    lag = use.lag
    assert lag is not None
    lag_text = Text(_lag(lag) + (" LATE" if use.late else ""),
                    "bold yellow" if use.late else "")
    status = Text.assemble(s.affiliation.value, "\n",
                           (s.status.value, "" if s.status.value == "ACTIVE" else "bold red"))
    states = "\n".join((" ".join(s.licensed_states) or "none",
                        " ".join(s.appointed_states) or "none",
                        " ".join(str(y) for y in s.certified_plan_years) or "none"))
    return [ids, f"{_when(s.effective_at)}\n{_when(s.recorded_at)}", lag_text, status, states,
            users]


def _correction(c: Correction, expl: Explanation) -> Panel:
    a = c.step.assignment
    before = c.previous.label if c.previous is not None else a.supersedes_decision_id
    parts: list[RenderableType] = [
        _facts([("supersedes", f"{before} (decision {a.supersedes_decision_id})"),
                ("decided as of", _when(a.decided_as_of)),
                ("caused by", "\n".join(c.causes))])]
    if c.changes:
        changes = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
        changes.add_column("what changed", no_wrap=True)
        changes.add_column("before", overflow="fold", ratio=1)
        changes.add_column("after", overflow="fold", ratio=1)
        for ch in c.changes:
            changes.add_row(ch.field, ch.before, ch.after)
        parts.append(changes)
    elif c.previous is None:
        parts.append(Text("The superseded decision is not in the source.", "yellow"))
    if c.reversals:
        parts += [Text("reversed", "bold underline"), _adjustments(c.reversals, expl)]
    if c.new_adjustments:
        parts += [Text("new adjustments", "bold underline"),
                  _adjustments(c.new_adjustments, expl)]
    if not c.reversals and not c.new_adjustments:
        parts.append(Text("No commission change: the earlier adjustments still stand."))
    title = Text.assemble(f"Correction {c.step.label}: ",
                          (f"{a.outcome.value} {a.reason.value}", "bold"))
    return Panel(Group(*parts), title=title, title_align="left", border_style="magenta")


def _money_section(expl: Explanation) -> RenderableType:
    if not expl.adjustments:
        return Text("No commission adjustments for this member.")
    table = _adjustments(expl.adjustments, expl, with_decision=True)
    table.title, table.title_justify = "Commission adjustments", "left"
    net = Table(title="Net per agent (USD)", title_justify="left", box=box.SIMPLE_HEAD)
    net.add_column("agent")
    net.add_column("starts", justify="right")
    net.add_column("recovered by stops", justify="right")
    net.add_column("reversals", justify="right")
    net.add_column("net", justify="right")
    for t in expl.totals:
        net.add_row(t.agent_id, _money(t.starts), _money(t.recoveries), _money(t.reversals),
                    Text(_money(t.net), "bold"))
    net.add_section()
    net.add_row("all", "", "", "", Text(_money(expl.summary.net), "bold"))
    return Group(table, net)


def _dead_letters(expl: Explanation) -> Table:
    table = Table(title="Inputs of this member that were not processed (dead letters)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("source", no_wrap=True)
    table.add_column("offset", justify="right")
    table.add_column("error type", no_wrap=True)
    table.add_column("message", overflow="fold")
    for d in expl.dead_letters:
        table.add_row(d.source, "" if d.offset is None else str(d.offset), d.error_type,
                      d.error_message)
    return table


def render_text(expl: Explanation, console: Console) -> None:
    console.print(_summary(expl))
    console.print(Text("Decisions in history order (occurred_at, then revision)",
                       "bold"))
    for step in expl.steps:
        console.print(_step(step, expl))
    console.print(_snapshots(expl))
    if expl.corrections:
        console.print(Text(f"Corrections ({len(expl.corrections)})", "bold"))
        for c in expl.corrections:
            console.print(_correction(c, expl))
    else:
        console.print(Text("No corrections: every decision stands as first made."))
    console.print(_money_section(expl))
    if expl.dead_letters:
        console.print(_dead_letters(expl))


__all__ = ["render_text"]
