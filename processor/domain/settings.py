"""Policy settings (policy.md "Policy settings") and the policy version they produce."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from processor.domain.model import INTERNAL_CHANNELS, Channel
from processor.domain.schedule import DEFAULT_SCHEDULE, RateSchedule


class Check(StrEnum):
    """Eligibility checks, in trace order."""

    SNAPSHOT_FOUND = "SNAPSHOT_FOUND"
    ACTIVE = "ACTIVE"
    LICENSED = "LICENSED"
    APPOINTED = "APPOINTED"
    CERTIFIED = "CERTIFIED"


ALL_CHECKS: tuple[Check, ...] = tuple(Check)

# The revision of the decision rules in processor/domain (docs/decisions.md, "Rules
# revisions"). It is hashed into policy_version with the settings, so outputs decided by
# different rules never mix unnoticed: raise it with every change that can change an output.
# 1: until 2026-12; 2: STOPs recover (rapid disenrollment, months not enrolled), the
# initial enrollment year pays INITIAL.
RULES_REVISION = 2


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The policy's knobs. The defaults are the carrier bulletin of Sept 2024."""

    name: str = "aor-retention"
    protected_channels: frozenset[Channel] = INTERNAL_CHANNELS
    # SNAPSHOT_FOUND always applies: without a snapshot nothing is known of an agent.
    eligibility_checks: frozenset[Check] = frozenset(ALL_CHECKS)
    facilitator_takes_aor: bool = True
    # 731 days reach back to January 1 of the previous calendar year (policy.md).
    correction_window_days: int = 731
    schedule: RateSchedule = field(default=DEFAULT_SCHEDULE)
    # Derived once: every output carries it.
    policy_version: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if not self.protected_channels <= INTERNAL_CHANNELS:
            extra = sorted(c.value for c in self.protected_channels - INTERNAL_CHANNELS)
            raise ValueError(f"only internal channels can be protected, not {', '.join(extra)}")
        if self.correction_window_days < 0:
            raise ValueError("the correction window cannot be negative")
        digest = hashlib.sha256(
            json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        object.__setattr__(self, "policy_version", f"{self.name}+{digest[:10]}")

    @property
    def correction_window(self) -> timedelta:
        return timedelta(days=self.correction_window_days)

    def applies(self, check: Check) -> bool:
        return check is Check.SNAPSHOT_FOUND or check in self.eligibility_checks

    def canonical(self) -> dict[str, object]:
        """Every setting that can change a decision, in a stable form for hashing."""
        return {
            "rules_revision": RULES_REVISION,
            "protected_channels": sorted(c.value for c in self.protected_channels),
            "eligibility_checks": sorted(c.value for c in self.eligibility_checks),
            "facilitator_takes_aor": self.facilitator_takes_aor,
            "correction_window_days": self.correction_window_days,
            "schedule": [
                [
                    year,
                    region.value,
                    str(r.ma_initial),
                    str(r.ma_renewal),
                    str(r.pdp_initial),
                    str(r.pdp_renewal),
                ]
                for year, region, r in sorted(
                    self.schedule.rates, key=lambda row: (row[0], row[1].value)
                )
            ],
        }
