"""The what-if report: one self-contained HTML page (inline CSS and SVG, no scripts, no
external resources; a Content-Security-Policy forbids loading any). Well-formed XML, so
it also parses as XHTML. Every value is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from html import escape

from processor.whatif.diff import MemberDiff, WhatIfDiff
from processor.whatif.svg import MINUS, agent_deltas, outcome_timeline, usd

TOP_MEMBERS = 30

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: #f6f7f9; color: #1a1a1a;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1160px; margin: 0 auto; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; }
p.lead { margin: 0 0 16px; color: #444; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: 12px; margin: 16px 0; padding: 0; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 12px 16px; }
.card dt { font-size: 12px; color: #555; text-transform: uppercase; letter-spacing: .04em; }
.card dd { margin: 4px 0 0; font-size: 22px; font-weight: 600; }
.card dd small { font-size: 13px; font-weight: 400; color: #555; }
.gain { color: #005a8c; }
.loss { color: #a63a00; }
figure { margin: 16px 0; background: #fff; border: 1px solid #dde1e6; border-radius: 8px;
  padding: 8px; }
figcaption { font-size: 13px; color: #444; padding: 4px 8px 8px; }
svg.chart { display: block; height: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 8px 0 16px;
  border: 1px solid #dde1e6; }
caption { text-align: left; font-weight: 600; padding: 8px 0; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eceef1; text-align: left;
  vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.changed td { background: #fffbe6; }
td code { white-space: nowrap; }
td.change { font-size: 12.5px; min-width: 280px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 12.5px; }
.versions code { display: block; white-space: nowrap; font-size: 12px; }
footer { margin-top: 32px; font-size: 12px; color: #555; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _class(*names: str) -> str:
    """A class attribute for the non-empty names, or nothing."""
    joined = " ".join(n for n in names if n)
    return f' class="{joined}"' if joined else ""


def _signed_class(value: Decimal | int) -> str:
    return "gain" if value > 0 else "loss" if value < 0 else ""


def _count(value: int, *, sign: bool = False) -> str:
    if value < 0:
        return f"{MINUS}{abs(value):,}"
    return f"+{value:,}" if sign and value > 0 else f"{value:,}"


def _table(caption: str, header: Sequence[tuple[str, bool]],
           rows: Iterable[tuple[Sequence[tuple[str, bool, str]], bool]], empty: str) -> str:
    """header: (label, numeric); rows: (cells (html, numeric, css class), highlighted)."""
    head = "".join(f'<th scope="col"{_class("num" if num else "")}>{_e(label)}</th>'
                   for label, num in header)
    body = []
    for cells, highlighted in rows:
        tds = []
        for html, num, css in cells:
            tds.append(f'<td{_class("num" if num else "", css)}>{html}</td>')
        body.append(f'<tr{_class("changed" if highlighted else "")}>{"".join(tds)}</tr>')
    if not body:
        body.append(f'<tr><td colspan="{len(header)}">{_e(empty)}</td></tr>')
    return (f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _money_cell(value: Decimal, *, sign: bool = False) -> tuple[str, bool, str]:
    return _e(usd(value, sign=sign)), True, _signed_class(value) if sign else ""


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _aor(agent_id: str | None) -> str:
    return "<em>house</em>" if agent_id is None else f"<code>{_e(agent_id)}</code>"


def _versions(versions: Sequence[str]) -> str:
    if not versions:
        return "<em>none</em>"
    return "".join(f"<code>{_e(v)}</code>" for v in versions)


def _member_row(m: MemberDiff) -> tuple[Sequence[tuple[str, bool, str]], bool]:
    change = m.event_changes[0].describe(" \u2192 ") if m.event_changes else ""
    if len(m.event_changes) > 1:
        change += f" (and {len(m.event_changes) - 1} more)"
    return ([(f"<code>{_e(m.member_id)}</code>", False, ""),
             (_aor(m.baseline_aor), False, ""), (_aor(m.scenario_aor), False, ""),
             (_e(", ".join(m.changed)), False, ""), (_e(change), False, "change"),
             _money_cell(m.baseline_net), _money_cell(m.scenario_net),
             _money_cell(m.delta, sign=True)], m.aor_changed)


def render_report(diff: WhatIfDiff, scenario_settings: Mapping[str, object],
                  sources: Mapping[str, str], top_agents: int = 20) -> str:
    """The report as one HTML string."""
    same = set(diff.baseline_versions) == set(diff.scenario_versions)
    cards = [
        ("Members changed", f"{diff.members_changed:,} <small>of "
                            f"{diff.members_compared:,}</small>", ""),
        ("AOR changes", f"{diff.aor_changes:,}", ""),
        ("Events with another outcome or reason",
         f"{diff.events_changed:,} <small>of {diff.events_compared:,}</small>", ""),
        ("Net commission delta", f"{_e(usd(diff.delta, sign=True))} <small>USD</small>",
         _signed_class(diff.delta)),
        ("Baseline net", f"{_e(usd(diff.baseline_total))} <small>USD</small>", ""),
        ("Scenario net", f"{_e(usd(diff.scenario_total))} <small>USD</small>", ""),
        # Recoveries as their own figures: a net change can hide a change in what STOPs
        # take back.
        ("STOP recoveries delta",
         f"{_e(usd(diff.recoveries_delta, sign=True))} <small>USD</small>",
         _signed_class(diff.recoveries_delta)),
        ("Baseline recoveries", f"{_e(usd(diff.baseline_recoveries))} <small>USD</small>", ""),
        ("Scenario recoveries", f"{_e(usd(diff.scenario_recoveries))} <small>USD</small>", ""),
    ]
    card_html = "".join(
        f'<div class="card"><dt>{_e(label)}</dt>'
        f'<dd{_class(css)}>{value}</dd></div>'
        for label, value, css in cards)
    versions = (
        '<div class="card versions"><dt>policy_version baseline</dt>'
        f"<dd><small>{_versions(diff.baseline_versions)}</small></dd></div>"
        '<div class="card versions"><dt>policy_version scenario</dt>'
        f"<dd><small>{_versions(diff.scenario_versions)}</small></dd></div>")
    same_note = ('<p class="lead"><strong>The scenario has the same policy_version as the '
                 "baseline</strong>: any difference comes from the inputs, not the "
                 "settings.</p>" if same else "")
    settings_rows = [([(f"<code>{_e(k)}</code>", False, ""), (_e(_setting(v)), False, "")],
                      False) for k, v in scenario_settings.items()]
    source_rows = [([(_e(k), False, ""), (f"<code>{_e(v)}</code>", False, "")], False)
                   for k, v in sources.items()]
    source_rows.append(([(_e("dead letters (baseline / scenario)"), False, ""),
                         (_e(f"{diff.baseline_dead_letters:,} / "
                             f"{diff.scenario_dead_letters:,}"), False, "")], False))
    top = diff.top_agents(top_agents)
    members = diff.top_members(TOP_MEMBERS)
    reason_rows = [([(_e(r.outcome), False, ""), (_e(r.reason), False, ""),
                     (_count(r.baseline_count), True, ""), (_count(r.scenario_count), True, ""),
                     (_count(r.delta, sign=True), True, _signed_class(r.delta))],
                    bool(r.delta)) for r in diff.reasons]
    agent_rows = [([(f"<code>{_e(a.agent_id)}</code>", False, ""),
                    _money_cell(a.baseline_net), _money_cell(a.scenario_net),
                    _money_cell(a.delta, sign=True), _money_cell(a.baseline_recoveries),
                    _money_cell(a.scenario_recoveries),
                    _money_cell(a.recoveries_delta, sign=True),
                    (_count(a.members_gained), True, ""), (_count(a.members_lost), True, "")],
                   False) for a in top]
    body = f"""<main>
<header>
<h1>What-if: scenario policy settings against the historical outputs</h1>
<p class="lead">The inputs were replayed with the scenario's settings and compared, member
by member, with the baseline outputs: final agent of record, outcome and reason of each
event (latest revision), and commission adjustments.</p>
</header>
<section aria-labelledby="headline">
<h2 id="headline">Headline</h2>
{same_note}
<dl class="cards">{card_html}{versions}</dl>
</section>
<section aria-labelledby="scenario">
<h2 id="scenario">Scenario</h2>
{_table("Scenario policy settings", [("setting", False), ("value", False)], settings_rows,
        "default settings")}
{_table("Sources", [("side", False), ("location", False)], source_rows, "")}
</section>
<section aria-labelledby="charts">
<h2 id="charts">Charts</h2>
<figure>
{outcome_timeline(diff.timeline, diff.period_unit)}
<figcaption>Decisions (latest revision of each event) per {_e(diff.period_unit)} of
effective date, stacked by outcome. Left, lighter bar: baseline; right, solid bar:
scenario. Hover a bar segment for its count.</figcaption>
</figure>
<figure>
{agent_deltas(top)}
<figcaption>Net commission change per agent, scenario {MINUS} baseline, for the
{len(top)} agents with the largest absolute change (every agent is in
<code>agents.csv</code>). Bars to the right of zero gain, to the left lose. Below each
agent's net bar, a thinner bar shows the change in its STOP recoveries, part of that net
(to the left: more taken back; none when they do not change).</figcaption>
</figure>
</section>
<section aria-labelledby="members">
<h2 id="members">Top changed members</h2>
{_table(f"The {len(members)} changed members with the largest commission delta (all "
        f"{diff.members_changed:,} are in members.csv); highlighted rows change AOR",
        [("member", False), ("baseline AOR", False), ("scenario AOR", False),
         ("changed", False), ("first changed event (baseline -> scenario)", False),
         ("baseline net", True), ("scenario net", True), ("delta", True)],
        (_member_row(m) for m in members), "No member changes under this scenario.")}
</section>
<section aria-labelledby="reasons">
<h2 id="reasons">Decisions per outcome and reason</h2>
{_table("Events (latest revision) per outcome and reason; highlighted rows change",
        [("outcome", False), ("reason", False), ("baseline", True), ("scenario", True),
         ("delta", True)], reason_rows, "No decisions.")}
</section>
<section aria-labelledby="agents">
<h2 id="agents">Agents with the largest commission change</h2>
{_table("Net commission per agent (USD), the STOP recoveries within it, and members "
        "gained or lost as AOR",
        [("agent", False), ("baseline net", True), ("scenario net", True), ("delta", True),
         ("baseline recoveries", True), ("scenario recoveries", True),
         ("recoveries delta", True), ("members gained", True), ("members lost", True)],
        agent_rows,
        "No agent's commissions change.")}
</section>
<footer>
<p>Net amounts sum every adjustment's amount, reversals included. Recoveries are what
STOPs take back (negative amounts: a rapid disenrollment's whole START, otherwise the
months no longer enrolled), net of the reversals that cancel or restore them; they are
part of the net. A member's final AOR is the latest revision of its last event in history
order. Written by aor-processor what-if; members.csv, agents.csv, reasons.csv and
summary.json hold the same figures.</p>
</footer>
</main>"""
    return f"""<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<title>What-if report: {_e(", ".join(diff.scenario_versions) or "scenario")}</title>
<style>{CSS}</style>
</head>
<body>
{body}
</body>
</html>
"""


__all__ = ["render_report"]
