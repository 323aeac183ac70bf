"""The bitemporal agent-status table: every snapshot kept, looked up as of a horizon."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from processor.domain.model import AgentStatusSnapshot

_SortKey = tuple[datetime, datetime, str]

# A decision's horizon in arrival order: (recorded_at, greatest snapshot_id seen at
# that instant). Events see every snapshot recorded at or before their recorded_at
# (snapshots sort first on ties); a snapshot correction sees snapshots up to itself.
Horizon = tuple[datetime, str]
ALL_IDS = "\U0010ffff"


def event_horizon(recorded_at: datetime) -> Horizon:
    return (recorded_at, ALL_IDS)


def snapshot_horizon(snapshot: AgentStatusSnapshot) -> Horizon:
    return (snapshot.recorded_at, snapshot.snapshot_id)


def _key(s: AgentStatusSnapshot) -> _SortKey:
    return (s.effective_at, s.recorded_at, s.snapshot_id)


class AgentView(Protocol):
    """What a decision may ask of the agent table."""

    def in_force(
        self, agent_id: str, at: datetime, horizon: Horizon
    ) -> AgentStatusSnapshot | None: ...


class AgentTable:
    """All snapshots per agent, sorted by (effective_at, recorded_at, snapshot_id).

    The in-force snapshot at `at` seen from `horizon` is the greatest key with
    effective_at <= at among snapshots recorded no later than the horizon. It is
    mutable (it grows) but does no I/O; decisions read it through AgentView.
    """

    __slots__ = ("_by_agent", "_by_id", "_keys")

    def __init__(self) -> None:
        self._by_agent: dict[str, list[AgentStatusSnapshot]] = {}
        self._keys: dict[str, list[_SortKey]] = {}
        self._by_id: dict[str, AgentStatusSnapshot] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, snapshot_id: str) -> AgentStatusSnapshot | None:
        return self._by_id.get(snapshot_id)

    def add(self, snapshot: AgentStatusSnapshot) -> bool:
        """Add a snapshot; False when this snapshot_id is already held."""
        if snapshot.snapshot_id in self._by_id:
            return False
        self._by_id[snapshot.snapshot_id] = snapshot
        key = _key(snapshot)
        keys = self._keys.setdefault(snapshot.agent_id, [])
        rows = self._by_agent.setdefault(snapshot.agent_id, [])
        i = bisect_right(keys, key)
        keys.insert(i, key)
        rows.insert(i, snapshot)
        return True

    def in_force(
        self, agent_id: str, at: datetime, horizon: Horizon
    ) -> AgentStatusSnapshot | None:
        keys = self._keys.get(agent_id)
        if not keys:
            return None
        rows = self._by_agent[agent_id]
        # Every key with effective_at <= at sorts before (at, datetime.max, ...).
        i = bisect_right(keys, (at, datetime.max.replace(tzinfo=at.tzinfo), "\uffff"))
        while i > 0:
            i -= 1
            candidate = rows[i]
            if (candidate.recorded_at, candidate.snapshot_id) <= horizon:
                return candidate
        return None

    def snapshots_of(self, agent_id: str) -> tuple[AgentStatusSnapshot, ...]:
        return tuple(self._by_agent.get(agent_id, ()))

    def recorded_after(
        self, agent_ids: frozenset[str], after: Horizon, until: Horizon | None = None
    ) -> Iterator[AgentStatusSnapshot]:
        """Snapshots of these agents in (after, until], in arrival order."""
        found = [
            s
            for agent in agent_ids
            for s in self._by_agent.get(agent, ())
            if (s.recorded_at, s.snapshot_id) > after
            and (until is None or (s.recorded_at, s.snapshot_id) <= until)
        ]
        found.sort(key=lambda s: (s.recorded_at, s.snapshot_id))
        return iter(found)


__all__ = ["ALL_IDS", "AgentTable", "AgentView", "Horizon", "event_horizon", "snapshot_horizon"]
