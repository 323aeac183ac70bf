"""The one decision path: inputs in arrival order in, decisions and rejections out.

File replay, the Kafka runtime, corrections and the property tests all drive this
class. It holds members, the agent table and an index of which members looked at
which agent; it does no I/O and reads no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

from processor.domain.agents import ALL_IDS, AgentTable, Horizon, snapshot_horizon
from processor.domain.member import (
    MemberState,
    new_member,
    on_event,
    on_snapshot,
    redecide,
    screen,
    settle,
)
from processor.domain.model import (
    AgentStatusSnapshot,
    Decision,
    ErrorType,
    MemberEvent,
    Rejection,
)
from processor.domain.settings import PolicySettings
from processor.domain.validation import validate_event


@dataclass(frozen=True, slots=True)
class Result:
    """What one input produced."""

    decisions: tuple[Decision, ...] = ()
    rejection: Rejection | None = None
    duplicate: bool = False


@dataclass(slots=True)
class Engine:
    settings: PolicySettings
    agents: AgentTable = field(default_factory=AgentTable)
    # A dict, or a store that decodes members on first use (the Kafka runtime's).
    members: MutableMapping[str, MemberState] = field(default_factory=dict)
    # agent_id -> members whose decisions looked at that agent (never shrinks: a stale
    # entry only costs an affected-check that finds nothing).
    watchers: dict[str, set[str]] = field(default_factory=dict)
    # Members stored since the owner last drained this (what a changelog must persist).
    changed: set[str] = field(default_factory=set)

    def _store(self, state: MemberState) -> None:
        self.members[state.member_id] = state
        self.changed.add(state.member_id)
        self.watch(state.member_id, state.agents_looked_at)

    def watch(self, member_id: str, agent_ids: Iterable[str]) -> None:
        """Index a member under the agents its decisions looked at (snapshots of those
        agents may correct it); for members stored without going through the engine."""
        for agent_id in agent_ids:
            self.watchers.setdefault(agent_id, set()).add(member_id)

    def add_snapshot(self, snapshot: AgentStatusSnapshot) -> Rejection | None:
        """Add to the table only; None when added or already held with the same payload."""
        held = self.agents.get(snapshot.snapshot_id)
        if held is not None:
            if held == snapshot:
                return None
            return Rejection(
                ErrorType.CONFLICTING_DUPLICATE,
                f"snapshot_id {snapshot.snapshot_id} was already received with a different "
                "payload")
        self.agents.add(snapshot)
        return None

    def apply_snapshot(self, snapshot: AgentStatusSnapshot,
                       member_ids: Iterable[str] | None = None) -> tuple[Decision, ...]:
        """Correct the members (default: all watchers) that the snapshot affects."""
        targets = (self.watchers.get(snapshot.agent_id, set()) if member_ids is None
                   else member_ids)
        out: list[Decision] = []
        for member_id in sorted(targets):
            state = self.members.get(member_id)
            if state is None:
                continue
            step = on_snapshot(state, snapshot, self.agents, self.settings)
            # Store any re-evaluation, even one that emits nothing: the member's state
            # then records the snapshots its decisions rest on now, and the next snapshot
            # of the agent is compared with those rather than with superseded ones.
            if step.state is not state:
                self._store(step.state)
            out.extend(step.decisions)
        return tuple(out)

    def on_snapshot(self, snapshot: AgentStatusSnapshot, *, settle_later: bool = False) -> Result:
        """A snapshot arrives: hold it and correct the members it affects.

        With `settle_later` (inputs out of arrival order), also apply to each affected
        member the snapshots already held that were recorded after this one. A snapshot
        already held with the same payload is a duplicate: no output, no state change.
        """
        if self.agents.get(snapshot.snapshot_id) == snapshot:
            # A redelivery (producer retry, re-read topic): its correction is already in
            # the state. Applying it again would re-decide at its older horizon and take
            # members back to what it alone said, undoing later snapshots.
            return Result(duplicate=True)
        rejection = self.add_snapshot(snapshot)
        if rejection is not None:
            return Result(rejection=rejection)
        decisions = list(self.apply_snapshot(snapshot))
        if settle_later:
            for member_id in sorted(self.watchers.get(snapshot.agent_id, set())):
                decisions.extend(self._settle(member_id, snapshot_horizon(snapshot)))
        return Result(tuple(decisions))

    def screen(self, event: MemberEvent) -> Result | None:
        """What ``on_event`` would answer without deciding: the rejection of an invalid
        or conflicting event, or a duplicate; None when it would be decided. Nothing
        changes, so a caller can keep a refused event from moving anything else (the
        Kafka runtime applies snapshots up to an event's recorded_at only for an event it
        will decide)."""
        rejection = validate_event(event, self.settings)
        if rejection is not None:
            return Result(rejection=rejection)
        state = self.members.get(event.member_id)
        step = None if state is None else screen(state, event)
        if step is None:
            return None
        return Result(rejection=step.rejection, duplicate=step.duplicate)

    def on_event(self, event: MemberEvent, *, settle_later: bool = False) -> Result:
        """An event arrives: validate, decide, correct later events of the member."""
        rejection = validate_event(event, self.settings)
        if rejection is not None:
            return Result(rejection=rejection)
        state = self.members.get(event.member_id) or new_member(event.member_id)
        step = on_event(state, event, self.agents, self.settings)
        if step.rejection is not None or step.duplicate:
            return Result(rejection=step.rejection, duplicate=step.duplicate)
        self._store(step.state)
        decisions = list(step.decisions)
        if settle_later:
            decisions.extend(self._settle(event.member_id, (event.recorded_at, ALL_IDS)))
        return Result(tuple(decisions))

    def redecide(self, member_id: str, since: datetime, known: Horizon) -> tuple[Decision, ...]:
        """Re-decide a held member's events from `since` under this engine's settings (a
        rules upgrade): superseding decisions for those decided differently."""
        state = self.members[member_id]
        step = redecide(state, self.agents, self.settings, since, known)
        if step.state is not state:
            self._store(step.state)
        return step.decisions

    def restore(self, state: MemberState) -> None:
        """Take a member's state from durable storage (it is not a change)."""
        self._store(state)
        self.changed.discard(state.member_id)

    def _settle(self, member_id: str, after: Horizon) -> Iterator[Decision]:
        state = self.members[member_id]
        step = settle(state, self.agents, after, self.settings)
        if step.state is not state:
            self._store(step.state)
        yield from step.decisions
