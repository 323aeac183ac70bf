"""The what-if diff as CSV files and summary.json (deterministic: no timestamps)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from processor.whatif.diff import CHANGE_FIELDS, WhatIfDiff

MEMBERS_HEADER = ("member_id", "baseline_aor", "scenario_aor", "changed", "events_changed",
                  "baseline_net", "scenario_net", "delta")
# Recoveries come last, so the earlier columns keep their positions.
AGENTS_HEADER = ("agent_id", "baseline_net", "scenario_net", "delta", "members_gained",
                 "members_lost", "baseline_recoveries", "scenario_recoveries")
REASONS_HEADER = ("outcome", "reason", "baseline_count", "scenario_count", "delta")


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def write_csvs(diff: WhatIfDiff, folder: Path) -> dict[str, int]:
    """Write members.csv, agents.csv and reasons.csv; returns rows written per file."""
    folder.mkdir(parents=True, exist_ok=True)
    members = [
        (m.member_id, m.baseline_aor or "", m.scenario_aor or "", ";".join(m.changed),
         str(len(m.event_changes)), money(m.baseline_net), money(m.scenario_net),
         money(m.delta))
        for m in diff.members]
    agents = [
        (a.agent_id, money(a.baseline_net), money(a.scenario_net), money(a.delta),
         str(a.members_gained), str(a.members_lost), money(a.baseline_recoveries),
         money(a.scenario_recoveries))
        for a in diff.agents]
    reasons = [
        (r.outcome, r.reason, str(r.baseline_count), str(r.scenario_count), str(r.delta))
        for r in diff.reasons]
    return {
        "members.csv": _write(folder / "members.csv", MEMBERS_HEADER, members),
        "agents.csv": _write(folder / "agents.csv", AGENTS_HEADER, agents),
        "reasons.csv": _write(folder / "reasons.csv", REASONS_HEADER, reasons),
    }


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    partial = path.with_name(path.name + ".partial")
    count = 0
    with partial.open("w", newline="", encoding="utf-8") as stream:
        out = csv.writer(stream, lineterminator="\n")
        out.writerow(header)
        for row in rows:
            out.writerow(row)
            count += 1
    os.replace(partial, path)
    return count


def summary_json(diff: WhatIfDiff, scenario_settings: dict[str, object], top: int,
                 ) -> dict[str, object]:
    """Headline figures (nets and the STOP recoveries within them), the scenario's settings,
    per-reason deltas and the top agents."""
    return {
        "baseline_policy_versions": list(diff.baseline_versions),
        "scenario_policy_versions": list(diff.scenario_versions),
        "scenario_settings": scenario_settings,
        "members_compared": diff.members_compared,
        "members_changed": diff.members_changed,
        "aor_changes": diff.aor_changes,
        "events_compared": diff.events_compared,
        "events_changed": diff.events_changed,
        "baseline_net": money(diff.baseline_total),
        "scenario_net": money(diff.scenario_total),
        "net_delta": money(diff.delta),
        "baseline_recoveries": money(diff.baseline_recoveries),
        "scenario_recoveries": money(diff.scenario_recoveries),
        "recoveries_delta": money(diff.recoveries_delta),
        "baseline_dead_letters": diff.baseline_dead_letters,
        "scenario_dead_letters": diff.scenario_dead_letters,
        "changed_fields": {f: sum(f in m.changed for m in diff.members)
                           for f in CHANGE_FIELDS},
        "reasons": [{"outcome": r.outcome, "reason": r.reason, "baseline": r.baseline_count,
                     "scenario": r.scenario_count, "delta": r.delta}
                    for r in diff.changed_reasons],
        "top_agents": [{"agent_id": a.agent_id, "baseline_net": money(a.baseline_net),
                        "scenario_net": money(a.scenario_net), "delta": money(a.delta),
                        "members_gained": a.members_gained, "members_lost": a.members_lost,
                        "baseline_recoveries": money(a.baseline_recoveries),
                        "scenario_recoveries": money(a.scenario_recoveries)}
                       for a in diff.top_agents(top)],
    }


def write_summary(path: Path, summary: dict[str, object]) -> None:
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


__all__ = ["AGENTS_HEADER", "MEMBERS_HEADER", "REASONS_HEADER", "money", "summary_json",
           "write_csvs", "write_summary"]
