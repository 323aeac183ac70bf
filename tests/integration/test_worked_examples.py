"""policy.md's worked examples through `load`, `run` and `dump` against the broker: the same
figures as through `replay` (tests/e2e/test_worked_examples.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import Deployment, assert_same_outputs, replay
from tests.worked_examples import CENTS_SCHEDULE, EXAMPLES, ROUNDING, check_outputs, write_inputs

pytestmark = pytest.mark.kafka


def test_every_worked_example_through_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in")
    (inputs / "manifest.json").write_text("{}")
    app = Deployment(kafka_bootstrap)
    app.setup(inputs)
    app.cli("run", "--until-idle", "3", timeout=240)
    dumped = app.dump(tmp_path / "dumped")
    check_outputs(dumped, EXAMPLES)
    assert_same_outputs(dumped, replay(inputs, tmp_path / "replayed"))


def test_half_up_rounding_with_a_schedule_in_cents_through_run(kafka_bootstrap: str,
                                                                tmp_path: Path) -> None:
    schedule = tmp_path / "cents.csv"
    schedule.write_text(CENTS_SCHEDULE)
    inputs = write_inputs(tmp_path / "in", (ROUNDING,))
    (inputs / "manifest.json").write_text("{}")
    app = Deployment(kafka_bootstrap, extra_env={"AOR_SCHEDULE_FILE": str(schedule),
                                                 "AOR_PLAN_YEARS": "2026"})
    app.setup(inputs)
    app.cli("run", "--until-idle", "3", timeout=240)
    check_outputs(app.dump(tmp_path / "dumped"), (ROUNDING,))
