"""policy.md's worked examples through `load`, `run` and `dump` against the broker: the same
figures as through `replay` (tests/e2e/test_worked_examples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import Deployment, assert_same_outputs, replay
from tests.worked_examples import CENTS_SCHEDULE, EXAMPLES, ROUNDING, check_outputs, write_inputs

pytestmark = pytest.mark.kafka


def test_every_worked_example_through_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Two deployments, run side by side: the examples under the default schedule, and
    policy.md's rounding example under a schedule in cents (50.50 x 3/12 = 12.63)."""
    inputs = write_inputs(tmp_path / "in")
    schedule = tmp_path / "cents.csv"
    schedule.write_text(CENTS_SCHEDULE)
    cents_inputs = write_inputs(tmp_path / "cents-in", (ROUNDING,))
    for folder in (inputs, cents_inputs):
        (folder / "manifest.json").write_text("{}")
    app = Deployment(kafka_bootstrap)
    cents = Deployment(kafka_bootstrap, extra_env={"AOR_SCHEDULE_FILE": str(schedule),
                                                   "AOR_PLAN_YEARS": "2026"})
    app.setup(inputs)
    cents.setup(cents_inputs)
    runs = [d.start("--until-idle", "3") for d in (app, cents)]
    assert [r.wait(240) for r in runs] == [0, 0]
    dumped = app.dump(tmp_path / "dumped")
    check_outputs(dumped, EXAMPLES)
    assert_same_outputs(dumped, replay(inputs, tmp_path / "replayed"))
    check_outputs(cents.dump(tmp_path / "cents-dumped"), (ROUNDING,))
