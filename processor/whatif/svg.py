"""Inline SVG charts for the what-if report: plain strings, every text escaped.

Each chart is an accessible image (``role="img"`` labelled by its ``<title>`` and
``<desc>``), with axis titles, a legend, and a ``<title>`` tooltip on every bar.
Colours are the Okabe-Ito palette, which colour-blind readers can tell apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

from processor.whatif.diff import AgentDiff, PeriodCount

OUTCOME_COLOURS: dict[str, str] = {
    "ASSIGNED": "#0072B2",
    "RETAINED": "#009E73",
    "TRANSFERRED": "#E69F00",
    "RELEASED": "#D55E00",
    "HOUSE": "#CC79A7",
}
GAIN_COLOUR = "#0072B2"
LOSS_COLOUR = "#D55E00"
RECOVERY_COLOUR = "#CC79A7"
# Agent rows: the net bar, and below it the thinner recoveries bar.
NET_BAR_H = 16
RECOVERY_BAR_H = 8
BASELINE_OPACITY = "0.42"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""
MINUS = "\u2212"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def usd(value: Decimal, *, sign: bool = False) -> str:
    text = f"{abs(value):,.2f}"
    if value < 0:
        return f"{MINUS}{text}"
    return f"+{text}" if sign and value > 0 else text


def _tick_usd(value: float, step: float) -> str:
    digits = 0 if step >= 1 else 2
    text = f"{abs(value):,.{digits}f}"
    if round(value, digits) == 0:
        return text
    return f"{MINUS}{text}" if value < 0 else f"+{text}"


def nice_step(span: float, ticks: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{_e(chart_id)}" class="chart" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{_e(chart_id)}-title {_e(chart_id)}-desc" {FONT} font-size="12">',
        f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
        f'<desc id="{_e(chart_id)}-desc">{_e(desc)}</desc>',
        f'<rect class="background" x="0" y="0" width="{width}" height="{height}" '
        f'fill="#ffffff"/>',
        f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="16" '
        f'font-weight="600" fill="#1a1a1a">{_e(title)}</text>',
    ]


def _empty(parts: list[str], width: int, height: int, message: str) -> str:
    parts.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
                 f'fill="#555555">{_e(message)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def outcome_timeline(rows: Sequence[PeriodCount], unit: str,
                     chart_id: str = "chart-outcomes") -> str:
    """Stacked bars per period: the baseline (light, left) and the scenario (solid, right)
    of each period, stacked by outcome."""
    width, height = 1100, 440
    left, right, top, bottom = 70, 20, 70, 92
    plot_w, plot_h = width - left - right, height - top - bottom
    title = f"Decisions by outcome over time (per {unit} of effective date)"
    periods = list(dict.fromkeys(r.period for r in rows))
    outcomes = list(dict.fromkeys(r.outcome for r in rows))
    desc = (f"Stacked bars of decisions (latest revision of each event) per {unit} of "
            f"effective date, by outcome; for each {unit} the left, lighter bar is the "
            f"baseline and the right, solid bar the scenario. "
            f"{len(periods)} {unit}s from {periods[0] if periods else '-'} to "
            f"{periods[-1] if periods else '-'}.")
    parts = _open(chart_id, width, height, title, desc)
    if not periods:
        return _empty(parts, width, height, "No decisions on either side")
    totals = {(r.period, side): 0 for r in rows for side in ("baseline", "scenario")}
    for r in rows:
        totals[(r.period, "baseline")] += r.baseline
        totals[(r.period, "scenario")] += r.scenario
    peak = max(*totals.values(), 1)
    step = max(nice_step(peak), 1.0)
    y_max = math.ceil(peak / step) * step

    def y(value: float) -> float:
        return top + plot_h - value / y_max * plot_h

    parts.extend(_legend_outcomes(outcomes, left, 44))
    # Grid and y axis.
    tick = 0.0
    while tick <= y_max + 1e-9:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_n(y(tick))}" '
                     f'y2="{_n(y(tick))}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end" '
                     f'fill="#333333">{tick:,.0f}</text>')
        tick += step
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" '
                 f'stroke="#333333"/>')
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
                 f'y2="{top + plot_h}" stroke="#333333"/>')
    parts.append(f'<text class="axis-title" transform="translate(18 {top + plot_h / 2:.0f}) '
                 f'rotate(-90)" text-anchor="middle" fill="#1a1a1a">decisions (latest '
                 f'revision per event)</text>')
    parts.append(f'<text class="axis-title" x="{left + plot_w / 2:.0f}" y="{height - 8}" '
                 f'text-anchor="middle" fill="#1a1a1a">{_e(unit)} of effective date '
                 f'(left bar baseline, right bar scenario)</text>')
    slot = plot_w / len(periods)
    bar_w = slot * 0.38
    label_every = max(1, math.ceil(len(periods) / 36))
    by_period: dict[str, list[PeriodCount]] = {}
    for r in rows:
        by_period.setdefault(r.period, []).append(r)
    parts.append('<g class="bars">')
    for i, period in enumerate(periods):
        x0 = left + i * slot
        for side, x, opacity in (("baseline", x0 + slot * 0.08, BASELINE_OPACITY),
                                 ("scenario", x0 + slot * 0.54, "1")):
            base = 0
            for r in by_period[period]:
                count = r.baseline if side == "baseline" else r.scenario
                if not count:
                    continue
                y_top, y_bottom = y(base + count), y(base)
                colour = OUTCOME_COLOURS.get(r.outcome, "#444444")
                parts.append(
                    f'<rect class="bar {side}" x="{_n(x)}" y="{_n(y_top)}" '
                    f'width="{_n(bar_w)}" height="{_n(y_bottom - y_top)}" fill="{colour}" '
                    f'fill-opacity="{opacity}" stroke="{colour}" stroke-width="0.6">'
                    f'<title>{_e(period)} {side}: {_e(r.outcome)} {count:,}</title></rect>')
                base += count
        if i % label_every == 0:
            cx, cy = x0 + slot / 2, top + plot_h + 10
            parts.append(f'<text transform="translate({_n(cx)} {_n(cy)}) rotate(-55)" '
                         f'text-anchor="end" font-size="11" fill="#333333">{_e(period)}'
                         f'</text>')
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _legend_outcomes(outcomes: Sequence[str], x: float, y: float) -> list[str]:
    parts = ['<g class="legend">']
    for outcome in outcomes:
        colour = OUTCOME_COLOURS.get(outcome, "#444444")
        parts.append(f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{_n(x + 17)}" y="{_n(y)}" fill="#1a1a1a">{_e(outcome)}</text>')
        x += 30 + 8 * len(outcome)
    x += 20
    for label, opacity in (("baseline", BASELINE_OPACITY), ("scenario", "1")):
        parts.append(f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" '
                     f'fill="#555555" fill-opacity="{opacity}" stroke="#555555" '
                     f'stroke-width="0.6"/>')
        parts.append(f'<text x="{_n(x + 17)}" y="{_n(y)}" fill="#1a1a1a">{label}</text>')
        x += 100
    parts.append("</g>")
    return parts


def agent_deltas(agents: Sequence[AgentDiff], chart_id: str = "chart-agents") -> str:
    """Diverging horizontal bars around zero: each agent's net commission delta and, below
    it as its own series, the delta of the STOP recoveries within that net."""
    width = 1100
    row_h, top, bottom = 34, 70, 60
    label_w, value_w = 150, 96
    height = top + bottom + row_h * max(len(agents), 1)
    plot_left, plot_right = label_w + value_w, width - value_w
    title = (f"Commission deltas per agent (top {len(agents)} by absolute delta)" if agents
             else "Commission deltas per agent")
    gains = sum(a.delta > 0 for a in agents)
    recovering = sum(a.recoveries_delta != 0 for a in agents)
    desc = (f"Horizontal bars of each agent's net commission change, scenario minus "
            f"baseline, in USD: {gains} agents gain (bars to the right of zero), "
            f"{len(agents) - gains} lose (bars to the left). Below each, a thinner bar "
            f"shows the change in STOP recoveries, which are part of the net (to the "
            f"left: more taken back); {recovering} of these agents' recoveries change.")
    parts = _open(chart_id, width, height, title, desc)
    if not agents:
        return _empty(parts, width, height, "No agent's commissions change")
    # The axis spans what both series need, always including zero.
    values = [float(v) for a in agents for v in (a.delta, a.recoveries_delta)]
    low, high = min(0.0, *values), max(0.0, *values)
    step = nice_step(high - low, 5)
    x_min, x_max = math.floor(low / step) * step, math.ceil(high / step) * step

    def x(value: float) -> float:
        return plot_left + (value - x_min) / (x_max - x_min) * (plot_right - plot_left)

    parts.extend(_legend_agents(plot_left, 46))
    axis_y = top + row_h * len(agents)
    tick = x_min
    while tick <= x_max + 1e-9:
        label = _tick_usd(tick, step)
        parts.append(f'<line x1="{_n(x(tick))}" x2="{_n(x(tick))}" y1="{top - 6}" '
                     f'y2="{axis_y}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{_n(x(tick))}" y="{axis_y + 16}" text-anchor="middle" '
                     f'fill="#333333">{_e(label)}</text>')
        tick += step
    parts.append(f'<line x1="{_n(x(0.0))}" x2="{_n(x(0.0))}" y1="{top - 6}" y2="{axis_y}" '
                 f'stroke="#333333"/>')
    parts.append(f'<text class="axis-title" x="{_n((plot_left + plot_right) / 2)}" '
                 f'y="{height - 12}" '
                 f'text-anchor="middle" fill="#1a1a1a">commission delta, scenario '
                 f'{MINUS} baseline (USD): net, and below it STOP recoveries</text>')
    parts.append(f'<text class="axis-title" x="8" y="{top - 14}" fill="#1a1a1a">agent</text>')
    parts.append('<g class="bars">')
    for i, agent in enumerate(agents):
        y0 = top + i * row_h
        name = agent.agent_id if len(agent.agent_id) <= 20 else agent.agent_id[:19] + "\u2026"
        parts.append(f'<text x="8" y="{_n(y0 + row_h / 2 + 4)}" fill="#1a1a1a">'
                     f'{_e(name)}</text>')
        tip = (f"{agent.agent_id}: {usd(agent.delta, sign=True)} USD (baseline "
               f"{usd(agent.baseline_net)}, scenario {usd(agent.scenario_net)}; members "
               f"gained {agent.members_gained}, lost {agent.members_lost})")
        kind = "gain" if agent.delta > 0 else "loss"
        parts.extend(_bar(x, agent.delta, y0 + 4, NET_BAR_H, f"bar {kind}",
                          GAIN_COLOUR if agent.delta > 0 else LOSS_COLOUR, tip, 12))
        if agent.recoveries_delta:  # unchanged recoveries draw nothing, not a 1 px stub
            tip = (f"{agent.agent_id}: STOP recoveries {usd(agent.recoveries_delta, sign=True)}"
                   f" USD (baseline {usd(agent.baseline_recoveries)}, scenario "
                   f"{usd(agent.scenario_recoveries)})")
            parts.extend(_bar(x, agent.recoveries_delta, y0 + 6 + NET_BAR_H,
                              RECOVERY_BAR_H, "bar recovery", RECOVERY_COLOUR, tip, 10))
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(x: Callable[[float], float], value: Decimal, y: float, height: float, css: str,
         colour: str, tip: str, font_size: int) -> list[str]:
    """A bar from zero to `value` with its tooltip, labelled at its outer end."""
    x_a, x_b = sorted((x(0.0), x(float(value))))
    label_y = _n(y + height / 2 + font_size / 3)
    label = (f'<text x="{_n(x_b + 5)}" y="{label_y}" font-size="{font_size}" '
             f'fill="#1a1a1a">{_e(usd(value, sign=True))}</text>' if value > 0 else
             f'<text x="{_n(x_a - 5)}" y="{label_y}" text-anchor="end" '
             f'font-size="{font_size}" fill="#1a1a1a">{_e(usd(value))}</text>')
    return [f'<rect class="{css}" x="{_n(x_a)}" y="{_n(y)}" '
            f'width="{_n(max(x_b - x_a, 1.0))}" height="{_n(height)}" fill="{colour}">'
            f'<title>{_e(tip)}</title></rect>', label]


def _legend_agents(x: float, y: float) -> list[str]:
    parts = ['<g class="legend">']
    for label, colour, height in (("net gain", GAIN_COLOUR, 12), ("net loss", LOSS_COLOUR, 12),
                                  ("of which STOP recoveries (change)", RECOVERY_COLOUR, 7)):
        parts.append(f'<rect x="{_n(x)}" y="{_n(y - 4 - height / 2)}" width="12" '
                     f'height="{height}" fill="{colour}"/>')
        parts.append(f'<text x="{_n(x + 17)}" y="{_n(y)}" fill="#1a1a1a">{_e(label)}</text>')
        x += 40 + 7 * len(label)
    parts.append("</g>")
    return parts


__all__ = ["OUTCOME_COLOURS", "agent_deltas", "nice_step", "outcome_timeline", "usd"]
