"""`explain` end to end on the bundled sample, as a representative runs it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample"


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "140"}
    return subprocess.run([sys.executable, "-m", "processor", *map(str, args)],
                          capture_output=True, text=True, check=check, env=env)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample-out")
    cli("replay", "--input", SAMPLE, "--output", folder, "--quiet")
    return folder


def _assignments(outputs: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in
            (outputs / "assignments.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def disputed(outputs: Path) -> str:
    """A member with a correction and a RETAINED INTERNAL_PLAN_CHANGE_PROTECTED decision
    (in the bundled sample: an internal plan change first released, then retained once a
    late snapshot reinstated the agent)."""
    rows = _assignments(outputs)
    corrected: set[str] = {a["member_id"] for a in rows if a["revision"] > 0}
    protected: set[str] = {a["member_id"] for a in rows
                           if a["reason"] == "INTERNAL_PLAN_CHANGE_PROTECTED"}
    both = sorted(corrected & protected)
    assert both, "the sample should hold a corrected, protected internal plan change"
    return both[0]


def test_explain_shows_the_history_and_the_trace(outputs: Path, disputed: str) -> None:
    result = cli("explain", "--outputs", outputs, "--inputs", SAMPLE, "--member", disputed)
    out = result.stdout
    assert f"AOR history of member {disputed}" in out
    rows = [a for a in _assignments(outputs) if a["member_id"] == disputed]
    for a in rows:
        assert f"{a['source_event_id']} r{a['revision']}" in out
    protected = next(a for a in rows if a["reason"] == "INTERNAL_PLAN_CHANGE_PROTECTED")
    # Every trace entry of the protected decision is shown, with its snapshot.
    for check in protected["rule_trace"]:
        assert check["rule"] in out
        if check["snapshot_id"]:
            assert check["snapshot_id"] in out
    assert "row 3: internal plan change, original agent eligible: AOR protected" in out
    assert "Agent-status snapshots relied on" in out
    assert "Correction " in out and "what changed" in out
    assert "Net per agent (USD)" in out
    assert result.stderr == ""


def test_explain_json_parses_and_matches_a_replay_in_memory(outputs: Path,
                                                            disputed: str) -> None:
    from_files = json.loads(cli("explain", "--outputs", outputs, "--inputs", SAMPLE,
                                "--member", disputed, "--json").stdout)
    assert from_files["member_id"] == disputed
    assert from_files["summary"]["corrections"] >= 1
    assert from_files["corrections"][0]["changes"]
    assert all(s["snapshot"] is not None for s in from_files["snapshots"])
    revisions = [(d["assignment"]["source_event_id"], d["assignment"]["revision"])
                 for d in from_files["decisions"]]
    assert len(revisions) == len(set(revisions))
    replayed = json.loads(cli("explain", "--replay", SAMPLE, "--member", disputed,
                              "--json").stdout)
    for document in (from_files, replayed):
        document.pop("source")
    from_files.pop("dead_letters")  # failed_at is wall-clock
    replayed.pop("dead_letters")
    assert replayed == from_files


def test_unknown_member_exits_2_naming_the_member_count(outputs: Path) -> None:
    members = len({a["member_id"] for a in _assignments(outputs)})
    result = cli("explain", "--outputs", outputs, "--member", "mbr-nobody", check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert (f"member mbr-nobody not found: outputs {outputs} holds decisions for "
            f"{members} members") in result.stderr


def test_inputs_need_outputs(outputs: Path) -> None:
    result = cli("explain", "--replay", SAMPLE, "--inputs", SAMPLE, "--member", "x",
                 check=False)
    assert result.returncode == 2
    assert "--inputs goes with --outputs" in result.stderr


@pytest.mark.parametrize(("block", "member"), [(0, "mbr-0000166"), (1, "mbr-0000257")])
def test_the_readme_walk_through_shows_real_output(outputs: Path, block: int,
                                                   member: str) -> None:
    readme = (SAMPLE.parents[1] / "README.md").read_text()
    section = readme.split("## A dispute walk-through", 1)[1].split("\n## ", 1)[0]
    excerpt = section.split("```text\n")[block + 1].split("```", 1)[0].splitlines()
    shown = cli("explain", "--outputs", outputs, "--inputs", SAMPLE, "--member", member,
                "--width", "100").stdout
    lines = {line.rstrip() for line in shown.splitlines()}
    for line in excerpt:
        if line == "⋮" or "│ source " in line:  # the cut marks; the source names a folder
            continue
        assert line in lines, line
