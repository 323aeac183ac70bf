"""Rate schedule files: CSV with one row per (plan year, region).

    plan_year,region,ma_initial,ma_renewal,pdp_initial,pdp_renewal
    2026,NATIONAL,694.00,347.00,114.00,57.00

Regions are NATIONAL, CT_PA_DC, CA_NJ, PR_VI. Amounts are annual USD, at most cents.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from processor.domain.schedule import Rates, RateSchedule, Region

COLUMNS = ("plan_year", "region", "ma_initial", "ma_renewal", "pdp_initial", "pdp_renewal")


class ScheduleFileError(ValueError):
    pass


def _amount(path: Path, line: int, column: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ScheduleFileError(f"{path}:{line}: {column} {text!r} is not a number") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ScheduleFileError(
            f"{path}:{line}: {column} {text!r} must be a non-negative amount in cents")
    return value


def load_schedule(path: Path) -> RateSchedule:
    if not path.is_file():
        raise ScheduleFileError(f"schedule file {path} does not exist")
    rows: list[tuple[int, Region, Rates]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or tuple(f.strip() for f in reader.fieldnames) != COLUMNS:
            raise ScheduleFileError(
                f"{path}: the header must be {','.join(COLUMNS)}, got "
                f"{','.join(reader.fieldnames or [])}")
        for number, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "") for k, v in raw.items()}
            try:
                year = int(row["plan_year"])
            except ValueError:
                raise ScheduleFileError(
                    f"{path}:{number}: plan_year {row['plan_year']!r} is not a year") from None
            try:
                region = Region(row["region"].strip())
            except ValueError:
                valid = ", ".join(r.value for r in Region)
                raise ScheduleFileError(
                    f"{path}:{number}: region {row['region']!r} is not one of {valid}") from None
            amounts = [_amount(path, number, c, row[c]) for c in COLUMNS[2:]]
            rows.append((year, region, Rates(*amounts)))
    try:
        return RateSchedule(name=path.stem, rates=tuple(rows))
    except ValueError as error:
        raise ScheduleFileError(f"{path}: {error}") from None
