"""`what-if`: replay the inputs with the scenario's settings, diff against the baseline,
write members.csv, agents.csv, reasons.csv, summary.json and report.html."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from processor.domain.settings import PolicySettings
from processor.files.replay import Clock
from processor.whatif.csv_out import money, summary_json, write_csvs, write_summary
from processor.whatif.diff import WhatIfDiff, compare
from processor.whatif.load import load_outputs, run_scenario
from processor.whatif.report import render_report

TOP_AGENTS = 20


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    diff: WhatIfDiff
    files: dict[str, int]  # file name -> rows written (1 for summary.json and report.html)
    output: Path
    scenario_version: str


def scenario_settings(policy: PolicySettings) -> dict[str, object]:
    """The scenario's policy settings, readable (also in summary.json)."""
    return {
        "policy_version": policy.policy_version,
        "protected_channels": ", ".join(sorted(c.value for c in policy.protected_channels))
                              or "none",
        "eligibility_checks": ", ".join(sorted(c.value for c in policy.eligibility_checks))
                              or "none (SNAPSHOT_FOUND only)",
        "facilitator_takes_aor": policy.facilitator_takes_aor,
        "correction_window_days": policy.correction_window_days,
        "schedule": f"{policy.schedule.name} (plan years "
                    f"{', '.join(str(y) for y in sorted(policy.schedule.plan_years))})",
    }


def run_what_if(input_dir: Path, baseline_dir: Path, output_dir: Path,
                policy: PolicySettings, clock: Clock, top_agents: int = TOP_AGENTS,
                ) -> WhatIfResult:
    """Everything `what-if` does but print. Raises ValueError on bad folders."""
    baseline = load_outputs(baseline_dir, clock())
    scenario, _ = run_scenario(input_dir, policy, clock)
    diff = compare(baseline, scenario)
    settings = scenario_settings(policy)
    files = write_csvs(diff, output_dir)
    write_summary(output_dir / "summary.json", summary_json(diff, settings, top_agents))
    html = render_report(diff, settings, {"input": str(input_dir),
                                          "baseline": str(baseline_dir)}, top_agents)
    partial = output_dir / "report.html.partial"
    partial.write_text(html, encoding="utf-8")
    partial.replace(output_dir / "report.html")
    files.update({"summary.json": 1, "report.html": 1})
    return WhatIfResult(diff, files, output_dir, policy.policy_version)


def _table(title: str, text: Sequence[str], numbers: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in text:
        table.add_column(column)
    for column in numbers:
        table.add_column(column, justify="right")
    return table


def print_summary(result: WhatIfResult, console: Console, rows: int = 10) -> None:
    """A short summary for the terminal."""
    diff = result.diff
    baseline = ", ".join(diff.baseline_versions) or "none"
    console.print(f"[bold]aor-processor what-if[/bold] baseline {baseline} -> scenario "
                  f"{result.scenario_version}")
    headline = Table(title="What changes", title_justify="left", show_header=False)
    headline.add_column("figure")
    headline.add_column("value", justify="right")
    headline.add_row("members changed", f"{diff.members_changed:,} of "
                                        f"{diff.members_compared:,}")
    headline.add_row("AOR changes", f"{diff.aor_changes:,}")
    headline.add_row("events with another outcome or reason",
                     f"{diff.events_changed:,} of {diff.events_compared:,}")
    headline.add_row("net commission (USD) baseline -> scenario",
                     f"{money(diff.baseline_total)} -> {money(diff.scenario_total)}")
    headline.add_row("net commission delta (USD)", f"{diff.delta:+.2f}")
    headline.add_row("recovered by STOPs (USD) baseline -> scenario",
                     f"{money(diff.baseline_recoveries)} -> {money(diff.scenario_recoveries)}")
    console.print(headline)
    if diff.changed_reasons:
        reasons = _table("Outcome and reason counts that change", ("outcome", "reason"),
                         ("baseline", "scenario", "delta"))
        for r in diff.changed_reasons:
            reasons.add_row(r.outcome, r.reason, f"{r.baseline_count:,}",
                            f"{r.scenario_count:,}", f"{r.delta:+,}")
        console.print(reasons)
    top = diff.top_agents(rows)
    if top:
        agents = _table(f"Top {len(top)} agents by |commission delta| (USD)", ("agent",),
                        ("baseline", "scenario", "delta", "gained", "lost"))
        for a in top:
            agents.add_row(a.agent_id, money(a.baseline_net), money(a.scenario_net),
                           f"{a.delta:+.2f}", str(a.members_gained), str(a.members_lost))
        console.print(agents)
    written = ", ".join(f"{name} ({n})" if name.endswith(".csv") else name
                        for name, n in result.files.items())
    console.print(f"wrote {result.output}: {written}")


__all__ = ["TOP_AGENTS", "WhatIfResult", "print_summary", "run_what_if", "scenario_settings"]
