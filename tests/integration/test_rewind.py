"""Rewind the live group to a datetime: state rebuilt as a range replay builds it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.harness import Deployment, generate, lines, per_member

pytestmark = pytest.mark.kafka


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_rewind_redecides_from_the_datetime_like_a_range_replay(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    history = generate(tmp_path / "history", 300, seed=44)
    app = Deployment(kafka_bootstrap)
    app.setup(history)
    app.cli("run", "--until-idle", "3", "--session-timeout-ms", "6000",
            "--instance-id", "a", timeout=240)
    live = app.dump(tmp_path / "live")
    stamps = sorted(_instant(e["recorded_at"]) for e in
                    lines(history / "enrollments.jsonl") + lines(history / "plan-changes.jsonl"))
    to = stamps[len(stamps) // 2]

    # The group still has the static member until its session times out.
    busy = subprocess.run([sys.executable, "-m", "processor", "rewind", "--to",
                           to.isoformat(), "--dry-run"], env=app.env, capture_output=True,
                          text=True, check=False, timeout=120)
    if busy.returncode == 2:
        assert "stop every instance first" in busy.stderr
        time.sleep(7)

    dry = app.cli("rewind", "--to", to.isoformat(), "--dry-run")
    assert "dry run" in dry.stdout and "->" in dry.stdout
    assert app.dump(tmp_path / "after-dry").joinpath("assignments.jsonl").read_bytes() == \
        (live / "assignments.jsonl").read_bytes()

    applied = app.cli("rewind", "--to", to.isoformat())
    assert "applied" in applied.stdout
    app.cli("run", "--until-idle", "3", "--session-timeout-ms", "6000",
            "--instance-id", "a", timeout=240)
    final = app.dump(tmp_path / "final")
    ranged = tmp_path / "ranged"
    app.cli("replay", "--from-kafka", "--from", to.isoformat(), "--output", ranged, "--quiet")

    for name in ("assignments", "commission-adjustments"):
        before, after, want = (per_member(f / f"{name}.jsonl") for f in (live, final, ranged))
        assert want, f"nothing to re-decide in {name}"
        for member in set(after) | set(want):
            rerun = after.get(member, [])[len(before.get(member, [])):]
            assert rerun == want.get(member, []), (name, member)
