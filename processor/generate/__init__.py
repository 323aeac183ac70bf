"""Deterministic synthetic input histories for the demo, tests and benchmarks."""

from processor.generate.history import (
    PLAN_YEARS,
    GeneratedHistory,
    GeneratorConfig,
    MalformedLine,
    generate,
    iter_agent_snapshots,
    iter_malformed,
    iter_member_events,
    record_dict,
)

__all__ = [
    "PLAN_YEARS",
    "GeneratedHistory",
    "GeneratorConfig",
    "MalformedLine",
    "generate",
    "iter_agent_snapshots",
    "iter_malformed",
    "iter_member_events",
    "record_dict",
]
