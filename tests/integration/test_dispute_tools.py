"""explain and what-if read the live output topics of a real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.harness import Deployment, generate, lines, replay

pytestmark = pytest.mark.kafka


def test_explain_and_what_if_from_the_output_topics(kafka_bootstrap: str,
                                                     tmp_path: Path) -> None:
    history = generate(tmp_path / "history", 200, seed=55)
    app = Deployment(kafka_bootstrap)
    app.setup(history)
    app.cli("run", "--until-idle", "3", timeout=240)
    replayed = replay(history, tmp_path / "replayed")

    # A member with a correction, else any member with an internal-channel decision.
    assignments = lines(replayed / "assignments.jsonl")
    corrected = [a["member_id"] for a in assignments if a["revision"] > 0]
    internal = [a["member_id"] for a in assignments
                if a["reason"] == "INTERNAL_PLAN_CHANGE_PROTECTED"]
    member = (corrected or internal)[0]

    from_topics = json.loads(app.cli("explain", "--member", member, "--topics",
                                     "--json").stdout)
    from_files = json.loads(app.cli("explain", "--member", member, "--outputs", replayed,
                                    "--inputs", history, "--json").stdout)
    assert from_topics["decisions"], "no decisions explained"
    assert [d["assignment"]["decision_id"] for d in from_topics["decisions"]] == \
        [d["assignment"]["decision_id"] for d in from_files["decisions"]]
    assert from_topics["snapshots"] == from_files["snapshots"]

    scenario = ("--protected-channels", "DEDICATED_PLAN_CHANGE_LINE")
    app.cli("what-if", "--input", history, "--baseline-topics", "--output",
            tmp_path / "whatif-topics", *scenario)
    app.cli("what-if", "--input", history, "--baseline", replayed, "--output",
            tmp_path / "whatif-files", *scenario)
    topics_summary = json.loads((tmp_path / "whatif-topics" / "summary.json").read_text())
    files_summary = json.loads((tmp_path / "whatif-files" / "summary.json").read_text())
    assert topics_summary["members_changed"] > 0
    for key in ("members_changed", "aor_changes", "events_changed", "baseline_net",
                "scenario_net", "net_delta"):
        assert topics_summary[key] == files_summary[key], key
    assert (tmp_path / "whatif-topics" / "members.csv").read_text() == \
        (tmp_path / "whatif-files" / "members.csv").read_text()
