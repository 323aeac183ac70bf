"""Deterministic identifiers (contract.md): UUIDv5, never random."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "aor.v1")


def decision_id(source_event_id: str, revision: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"decision/{source_event_id}/{revision}"))


def adjustment_id(decision_id: str, index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"adjustment/{decision_id}/{index}"))
