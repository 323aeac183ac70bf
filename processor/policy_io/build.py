"""Settings -> the domain's PolicySettings, with the start-up checks."""

from __future__ import annotations

from processor.config import Settings
from processor.domain.schedule import DEFAULT_SCHEDULE
from processor.domain.settings import PolicySettings
from processor.policy_io.schedule_file import load_schedule


def build_policy(settings: Settings) -> PolicySettings:
    """Raises ValueError with a message for the operator when the policy cannot start."""
    schedule = (load_schedule(settings.schedule_file) if settings.schedule_file is not None
                else DEFAULT_SCHEDULE)
    schedule.require_plan_years(settings.plan_years)
    return PolicySettings(
        name=settings.policy_name,
        protected_channels=settings.protected_channels,
        eligibility_checks=settings.eligibility_checks,
        facilitator_takes_aor=settings.facilitator_takes_aor,
        correction_window_days=settings.correction_window_days,
        schedule=schedule,
    )
