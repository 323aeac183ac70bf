"""Schedule files replace the default CMS table; start-up refuses incomplete ones."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from processor.config import load_settings
from processor.domain.commissions import prorate
from processor.domain.model import Basis, PlanType
from processor.domain.schedule import DEFAULT_SCHEDULE, Region
from processor.policy_io.build import build_policy
from processor.policy_io.schedule_file import ScheduleFileError, load_schedule

HEADER = "plan_year,region,ma_initial,ma_renewal,pdp_initial,pdp_renewal\n"


def _schedule(tmp_path: Path, rows: list[str], name: str = "carrier-2026.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def _full_year(year: int, ma_renewal: str = "50.50") -> list[str]:
    return [f"{year},{r.value},100.00,{ma_renewal},20.00,10.00" for r in Region]


def test_schedule_file_in_cents_rounds_half_up(tmp_path: Path) -> None:
    schedule = load_schedule(_schedule(tmp_path, _full_year(2026)))
    annual = schedule.rates_for(2026, Region.NATIONAL).annual(PlanType.MA, Basis.RENEWAL)
    assert annual == Decimal("50.50")
    months, amount = prorate(annual, date(2026, 10, 1))
    assert (months, amount) == (3, Decimal("12.63"))  # half-even would give 12.62


def test_schedule_file_replaces_the_default(tmp_path: Path) -> None:
    path = _schedule(tmp_path, _full_year(2026))
    policy = build_policy(load_settings(schedule_file=path, plan_years="2026"))
    assert policy.schedule.plan_years == frozenset({2026})
    assert policy.schedule.name == "carrier-2026"
    assert policy.policy_version != build_policy(load_settings()).policy_version


def test_configured_plan_year_without_rates_fails_start_up(tmp_path: Path) -> None:
    path = _schedule(tmp_path, _full_year(2026))
    with pytest.raises(ValueError, match=r"no rates for configured plan year\(s\) 2024, 2025"):
        build_policy(load_settings(schedule_file=path))


def test_default_schedule_covers_default_plan_years() -> None:
    DEFAULT_SCHEDULE.require_plan_years((2024, 2025, 2026))
    assert DEFAULT_SCHEDULE.rates_for(2026, Region.NATIONAL).ma_renewal == Decimal("347")
    assert DEFAULT_SCHEDULE.rates_for(2025, Region.CA_NJ).ma_renewal == Decimal("390")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param(_full_year(2026)[:3], r"plan year 2026 has no rates for region\(s\) PR_VI",
                     id="missing-region"),
        pytest.param([*_full_year(2026), "2026,NATIONAL,1,1,1,1"], "repeated",
                     id="repeated-row"),
        pytest.param(["2026,MOON,1,1,1,1"], "region 'MOON' is not one of", id="unknown-region"),
        pytest.param(["20x6,NATIONAL,1,1,1,1"], "plan_year '20x6' is not a year",
                     id="bad-year"),
        pytest.param(["2026,NATIONAL,1.005,1,1,1"], "in cents", id="sub-cent-amount"),
        pytest.param(["2026,NATIONAL,abc,1,1,1"], "is not a number", id="not-a-number"),
    ],
)
def test_bad_schedule_files_fail_with_a_clear_message(
        tmp_path: Path, rows: list[str], message: str) -> None:
    with pytest.raises(ScheduleFileError, match=message):
        load_schedule(_schedule(tmp_path, rows))


def test_bad_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("year,region\n2026,NATIONAL\n")
    with pytest.raises(ScheduleFileError, match="the header must be"):
        load_schedule(path)
