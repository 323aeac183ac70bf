"""policy.md's worked examples through `replay`, as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.worked_examples import CENTS_SCHEDULE, EXAMPLES, ROUNDING, check_outputs, write_inputs


def replay(*args: str | Path) -> None:
    subprocess.run([sys.executable, "-m", "processor", "replay", "--quiet", "--no-progress",
                    *map(str, args)], check=True, capture_output=True,
                   env={k: v for k, v in os.environ.items() if not k.startswith("AOR_")})


def test_every_worked_example_through_replay(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in")
    replay("--input", inputs, "--output", tmp_path / "out")
    check_outputs(tmp_path / "out", EXAMPLES)
    # The summary's figures add the STOPs' recoveries in.
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    stops = [x.amount for e in EXAMPLES for x in e.adjustments
             if x.kind == "STOP" and x.amount is not None]
    assert Decimal(summary["recovered_amount"]) == sum(stops) < 0
    assert Decimal(summary["net_amount"]) == sum(e.net for e in EXAMPLES)


def test_half_up_rounding_with_a_schedule_in_cents_through_replay(tmp_path: Path) -> None:
    schedule = tmp_path / "cents.csv"
    schedule.write_text(CENTS_SCHEDULE)
    inputs = write_inputs(tmp_path / "in", (ROUNDING,))
    replay("--input", inputs, "--output", tmp_path / "out", "--schedule-file", schedule,
           "--plan-years", "2026")
    check_outputs(tmp_path / "out", (ROUNDING,))
