"""Eligibility of an agent at a time, one rule-trace entry per check (policy.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from processor.domain.agents import AgentView, Horizon
from processor.domain.model import AgentStatus, AgentStatusSnapshot, RuleCheck
from processor.domain.settings import ALL_CHECKS, Check, PolicySettings


@dataclass(frozen=True, slots=True)
class Eligibility:
    """What one agent looked like to a decision: its snapshot and the checks."""

    agent_id: str
    snapshot: AgentStatusSnapshot | None
    checks: tuple[RuleCheck, ...]

    @property
    def eligible(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def external(self) -> bool:
        return self.snapshot is not None and self.snapshot.affiliation.is_external

    @property
    def internal(self) -> bool:
        return self.snapshot is not None and not self.snapshot.affiliation.is_external

    @property
    def snapshot_id(self) -> str | None:
        return self.snapshot.snapshot_id if self.snapshot else None


def _states(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


def _check(
    check: Check,
    snapshot: AgentStatusSnapshot,
    member_state: str,
    plan_year: int,
    settings: PolicySettings,
) -> tuple[bool, str]:
    if check is Check.ACTIVE:
        return snapshot.status is AgentStatus.ACTIVE, f"status {snapshot.status.value}"
    if check is Check.LICENSED:
        ok = member_state in snapshot.licensed_states
        verb = "in" if ok else "not in"
        return ok, f"{member_state} {verb} licensed_states {_states(snapshot.licensed_states)}"
    if check is Check.APPOINTED:
        ok = member_state in snapshot.appointed_states
        verb = "in" if ok else "not in"
        return ok, f"{member_state} {verb} appointed_states {_states(snapshot.appointed_states)}"
    # CERTIFIED
    ok = plan_year in snapshot.certified_plan_years
    years = "[" + ", ".join(str(y) for y in snapshot.certified_plan_years) + "]"
    verb = "in" if ok else "not in"
    return ok, f"plan year {plan_year} {verb} certified_plan_years {years}"


# Memo of assess() for agents with a snapshot in force. The checks are a pure function of
# (agent, snapshot, member state, plan year, checks applied); many decisions look at the same agent
# in the same state and year. Keyed by the snapshot's identity: the entry holds the snapshot,
# so its id cannot be reused while the entry lives. Cleared when full, to bound memory.
_Key = tuple[int, str, str, int, frozenset[Check]]
_MEMO: dict[_Key, Eligibility] = {}
MEMO_LIMIT = 1 << 14


def assess(
    agents: AgentView,
    agent_id: str,
    at: datetime,
    horizon: Horizon,
    member_state: str,
    plan_year: int,
    settings: PolicySettings,
) -> Eligibility:
    """Evaluate the five checks for one agent, all five always traced, in order."""
    snapshot = agents.in_force(agent_id, at, horizon)
    if snapshot is None:
        checks = [
            RuleCheck(Check.SNAPSHOT_FOUND.value, agent_id, False, None,
                      f"no snapshot in force at {at.isoformat()} "
                      f"recorded by {horizon[0].isoformat()}")
        ]
        checks.extend(
            RuleCheck(c.value, agent_id, False, None, "no snapshot") for c in ALL_CHECKS[1:]
        )
        return Eligibility(agent_id, None, tuple(checks))
    key = (id(snapshot), agent_id, member_state, plan_year, settings.eligibility_checks)
    found = _MEMO.get(key)
    if found is not None and found.snapshot is snapshot:
        return found
    found = _assess(agent_id, snapshot, member_state, plan_year, settings)
    if len(_MEMO) >= MEMO_LIMIT:
        _MEMO.clear()
    _MEMO[key] = found
    return found


def _assess(agent_id: str, snapshot: AgentStatusSnapshot, member_state: str, plan_year: int,
            settings: PolicySettings) -> Eligibility:
    sid = snapshot.snapshot_id
    checks = [
        RuleCheck(
            Check.SNAPSHOT_FOUND.value, agent_id, True, sid,
            f"{snapshot.affiliation.value} agent, snapshot effective "
            f"{snapshot.effective_at.isoformat()}",
        )
    ]
    for check in ALL_CHECKS[1:]:
        passed, detail = _check(check, snapshot, member_state, plan_year, settings)
        if not settings.applies(check):
            passed, detail = True, f"not applied under these policy settings ({detail})"
        checks.append(RuleCheck(check.value, agent_id, passed, sid, detail))
    return Eligibility(agent_id, snapshot, tuple(checks))
