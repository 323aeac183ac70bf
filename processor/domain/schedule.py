"""Commission rate schedule: regions, the default CMS fair-market-value caps, lookups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from processor.domain.model import Basis, PlanType


class Region(StrEnum):
    NATIONAL = "NATIONAL"
    CT_PA_DC = "CT_PA_DC"
    CA_NJ = "CA_NJ"
    PR_VI = "PR_VI"


# 50 states, DC and the five inhabited territories, where Medicare Advantage and
# Part D plans are sold. Military (AA, AE, AP) and freely associated states
# (FM, MH, PW) are USPS codes but not Medicare service areas; see docs/decisions.md.
USPS_STATES: frozenset[str] = frozenset(
    """AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT
    NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY
    DC PR VI GU AS MP""".split()
)

_REGION_OF_STATE: Mapping[str, Region] = {
    "CT": Region.CT_PA_DC,
    "PA": Region.CT_PA_DC,
    "DC": Region.CT_PA_DC,
    "CA": Region.CA_NJ,
    "NJ": Region.CA_NJ,
    "PR": Region.PR_VI,
    "VI": Region.PR_VI,
}


def region_of(member_state: str) -> Region:
    return _REGION_OF_STATE.get(member_state, Region.NATIONAL)


@dataclass(frozen=True, slots=True)
class Rates:
    """Annual per-member amounts for one plan year and region, in USD."""

    ma_initial: Decimal
    ma_renewal: Decimal
    pdp_initial: Decimal
    pdp_renewal: Decimal

    def annual(self, plan_type: PlanType, basis: Basis) -> Decimal:
        if plan_type.family == "PDP":
            return self.pdp_initial if basis is Basis.INITIAL else self.pdp_renewal
        return self.ma_initial if basis is Basis.INITIAL else self.ma_renewal


@dataclass(frozen=True, slots=True)
class RateSchedule:
    """Rates by (plan year, region). Every covered year has all four regions."""

    name: str
    rates: tuple[tuple[int, Region, Rates], ...]
    # Derived once from `rates` (every decision looks a rate up and every event's plan
    # year is checked): not compared, not shown.
    _index: dict[tuple[int, Region], Rates] = field(
        init=False, repr=False, compare=False, default_factory=dict)
    _plan_years: frozenset[int] = field(
        init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        years = {year for year, _, _ in self.rates}
        for year in sorted(years):
            regions = {region for y, region, _ in self.rates if y == year}
            missing = [r.value for r in Region if r not in regions]
            if missing:
                raise ValueError(
                    f"rate schedule {self.name!r}: plan year {year} has no rates for "
                    f"region(s) {', '.join(missing)}"
                )
        keys = [(year, region) for year, region, _ in self.rates]
        if len(keys) != len(set(keys)):
            raise ValueError(f"rate schedule {self.name!r}: a (plan year, region) is repeated")
        self._index.update(((year, region), rates) for year, region, rates in self.rates)
        object.__setattr__(self, "_plan_years", frozenset(years))

    @property
    def plan_years(self) -> frozenset[int]:
        return self._plan_years

    def covers(self, plan_year: int) -> bool:
        return plan_year in self._plan_years

    def rates_for(self, plan_year: int, region: Region) -> Rates:
        try:
            return self._index[(plan_year, region)]
        except KeyError:
            raise KeyError((plan_year, region)) from None

    def require_plan_years(self, plan_years: Iterable[int]) -> None:
        """Start-up check: every configured plan year must have rates."""
        missing = sorted(set(plan_years) - self.plan_years)
        if missing:
            covered = ", ".join(str(y) for y in sorted(self.plan_years)) or "none"
            raise ValueError(
                f"rate schedule {self.name!r} has no rates for configured plan year(s) "
                f"{', '.join(str(y) for y in missing)} (it covers: {covered}); add them to "
                "the schedule file or change AOR_PLAN_YEARS"
            )


def _row(year: int, region: Region, *amounts: int) -> tuple[int, Region, Rates]:
    ma_i, ma_r, pdp_i, pdp_r = (Decimal(a) for a in amounts)
    return (year, region, Rates(ma_i, ma_r, pdp_i, pdp_r))


# CMS fair-market-value caps (policy.md). Published renewal values are stored,
# never derived as half of the initial. 2025 is the CMS revision of 2024-07-18.
DEFAULT_SCHEDULE = RateSchedule(
    name="cms-fmv-caps",
    rates=(
        _row(2024, Region.NATIONAL, 611, 306, 100, 50),
        _row(2024, Region.CT_PA_DC, 689, 345, 100, 50),
        _row(2024, Region.CA_NJ, 762, 381, 100, 50),
        _row(2024, Region.PR_VI, 418, 209, 100, 50),
        _row(2025, Region.NATIONAL, 626, 313, 109, 55),
        _row(2025, Region.CT_PA_DC, 705, 353, 109, 55),
        _row(2025, Region.CA_NJ, 780, 390, 109, 55),
        _row(2025, Region.PR_VI, 428, 214, 109, 55),
        _row(2026, Region.NATIONAL, 694, 347, 114, 57),
        _row(2026, Region.CT_PA_DC, 781, 391, 114, 57),
        _row(2026, Region.CA_NJ, 864, 432, 114, 57),
        _row(2026, Region.PR_VI, 474, 237, 114, 57),
    ),
)
