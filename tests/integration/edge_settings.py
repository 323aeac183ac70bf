"""Settings whose every topic and application id is unique to one test (the broker is
shared by the whole session)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processor.config import Settings, load_settings


def unique_settings(bootstrap: str, unique_topic: Callable[[str], str],
                    **overrides: Any) -> Settings:
    names = {
        "application_id": unique_topic("app"),
        "enrollments_topic": unique_topic("enrollments"),
        "plan_changes_topic": unique_topic("plan-changes"),
        "agent_status_topic": unique_topic("agent-status"),
        "assignments_topic": unique_topic("assignments"),
        "adjustments_topic": unique_topic("adjustments"),
        "dead_letters_topic": unique_topic("dead-letters"),
    }
    return load_settings(**{"bootstrap_servers": bootstrap, "wire_format": "fingerprint",
                            **names, **overrides})
