"""The AOR decision tables of policy.md: enrollment rows E1-E4, plan-change rows 1-10.

`rule` is pure: it reads the agent table through `AgentView` as of a horizon and
returns a `Ruling` whose trace reads, top to bottom, as the decision's explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from processor.domain.agents import AgentView, Horizon
from processor.domain.eligibility import Eligibility, assess
from processor.domain.model import (
    FACILITATED_CHANNELS,
    INTERNAL_CHANNELS,
    Channel,
    CommissionAdjustment,
    Enrollment,
    MemberEvent,
    Outcome,
    PlanRef,
    Reason,
    RuleCheck,
)
from processor.domain.settings import PolicySettings


@dataclass(frozen=True, slots=True)
class Position:
    """Where a member stands after a decision: the fold state the next event reads."""

    agent_of_record_id: str | None
    plan: PlanRef
    effective_date: date
    # The START standing for `plan`, which a second election in the same period reverses.
    start: CommissionAdjustment | None
    # The plan before `plan`; like/unlike plan type of a second election is judged on it.
    prior_plan: PlanRef | None
    # The member's initial enrollment year (policy.md): the plan year of its first event
    # in history order when that event had no prior plan; None when it had one, and
    # INITIAL_YEAR_NOT_RECORDED in a state written before the rule existed.
    initial_year: int | None = None


# No plan year is 0: the initial enrollment year of a position decoded from a member state
# written before the rule (format 1 or 2). It behaves as "none known"; the trace says why.
INITIAL_YEAR_NOT_RECORDED = 0


class Fact(StrEnum):
    """Routing facts a decision relies on, each traced as an entry of its own."""

    EXISTING_MEMBER = "EXISTING_MEMBER"
    WRITING_AGENT_PRESENT = "WRITING_AGENT_PRESENT"
    WRITING_AGENT_EXTERNAL = "WRITING_AGENT_EXTERNAL"
    ORIGINAL_AGENT_PRESENT = "ORIGINAL_AGENT_PRESENT"
    ORIGINAL_AGENT_EXTERNAL = "ORIGINAL_AGENT_EXTERNAL"
    INTERNAL_CHANNEL = "INTERNAL_CHANNEL"
    CHANNEL_PROTECTED = "CHANNEL_PROTECTED"
    SAME_AGENT = "SAME_AGENT"
    FACILITATOR_EXTERNAL = "FACILITATOR_EXTERNAL"
    FACILITATOR_TAKES_AOR = "FACILITATOR_TAKES_AOR"
    SECOND_ELECTION = "SECOND_ELECTION"
    RAPID_DISENROLLMENT = "RAPID_DISENROLLMENT"
    LIKE_PLAN_TYPE = "LIKE_PLAN_TYPE"
    INITIAL_ENROLLMENT_YEAR = "INITIAL_ENROLLMENT_YEAR"
    POLICY_ROW = "POLICY_ROW"


@dataclass(frozen=True, slots=True)
class Ruling:
    """The AOR part of a decision, before commissions."""

    row: str
    outcome: Outcome
    reason: Reason
    previous_agent_id: str | None
    agent_of_record_id: str | None
    facilitating_agent_id: str | None
    channel: Channel | None
    requires_review: bool
    trace: tuple[RuleCheck, ...]
    # (agent_id, snapshot_id) of every agent looked at, for snapshot corrections.
    looked_at: tuple[tuple[str, str | None], ...]


# Plain-str names of the facts: Enum.value is a Python-level property, and fact() runs
# about ten times per decision.
_FACT_NAMES: dict[Fact, str] = {f: f.value for f in Fact}


def fact(rule: Fact, passed: bool, detail: str, agent_id: str | None = None,
         snapshot_id: str | None = None) -> RuleCheck:
    return RuleCheck(_FACT_NAMES[rule], agent_id, passed, snapshot_id, detail)


# What each row means, for the POLICY_ROW trace entry an agent-support representative reads.
ROW_TEXT: dict[str, str] = {
    "E2": "enrollment with no external writing agent: house account",
    "E3": "enrollment by an eligible writing agent: assigned",
    "E4": "enrollment by an ineligible writing agent: house account, review",
    "1": "house account, eligible external facilitator: assigned",
    "2": "no original agent: stays with the house",
    "3": "internal plan change, original agent eligible: AOR protected",
    "4": "internal plan change, original agent not eligible: released",
    "5": "original agent's own application, agent eligible: retained",
    "6": "original agent's own application, agent not eligible: released",
    "7": "eligible external agent application: AOR transferred",
    "8": "eligible external call center: AOR transferred",
    "9": "facilitator not eligible or internal, original agent eligible: retained, review",
    "10": "facilitator not eligible or internal, original agent not eligible: released, review",
    "S1": "internal channel not protected under these policy settings: released",
    "S2": "facilitator does not take the AOR under these policy settings, original agent "
    "eligible: retained",
    "S3": "facilitator does not take the AOR under these policy settings, original agent "
    "not eligible: released",
}


class _Decider:
    """Collects the trace and looked-at agents while walking one table."""

    def __init__(self, event: MemberEvent, horizon: Horizon, agents: AgentView,
                 settings: PolicySettings) -> None:
        self.event = event
        self.horizon = horizon
        self.agents = agents
        self.settings = settings
        self.trace: list[RuleCheck] = []
        self.seen: dict[str, Eligibility] = {}

    def look(self, agent_id: str) -> Eligibility:
        """Assess an agent once per decision, tracing its five checks the first time."""
        found = self.seen.get(agent_id)
        if found is None:
            e = self.event
            found = assess(self.agents, agent_id, e.occurred_at, self.horizon,
                           e.member_state, e.new_plan.plan_year, self.settings)
            self.seen[agent_id] = found
            self.trace.extend(found.checks)
        return found

    def note(self, rule: Fact, passed: bool, detail: str, agent: Eligibility | None = None,
             agent_id: str | None = None) -> None:
        if agent is not None:
            self.trace.append(fact(rule, passed, detail, agent.agent_id, agent.snapshot_id))
        else:
            self.trace.append(fact(rule, passed, detail, agent_id))

    def ruling(self, row: str, outcome: Outcome, reason: Reason, previous: str | None,
               aor: str | None, facilitator: str | None, channel: Channel | None,
               review: bool = False) -> Ruling:
        self.trace.append(fact(Fact.POLICY_ROW, True, f"row {row}: {ROW_TEXT[row]}"))
        return Ruling(
            row=row, outcome=outcome, reason=reason, previous_agent_id=previous,
            agent_of_record_id=aor, facilitating_agent_id=facilitator, channel=channel,
            requires_review=review, trace=tuple(self.trace),
            looked_at=tuple((a, e.snapshot_id) for a, e in self.seen.items()),
        )


def _affiliation(e: Eligibility) -> str:
    return e.snapshot.affiliation.value if e.snapshot else "unknown (no snapshot)"


def rule(event: MemberEvent, before: Position | None, agents: AgentView,
         horizon: Horizon, settings: PolicySettings) -> Ruling:
    """Decide the AOR for one event given the member's position before it."""
    d = _Decider(event, horizon, agents, settings)
    if isinstance(event, Enrollment):
        return _enrollment(d, event, before)
    channel = event.channel
    internal = channel in INTERNAL_CHANNELS
    return _plan_change(
        d, before, route=channel, internal=internal,
        protected=internal and channel in settings.protected_channels,
        facilitator=event.facilitating_agent_id, output_channel=channel,
    )


def _enrollment(d: _Decider, event: Enrollment, before: Position | None) -> Ruling:
    d.note(Fact.EXISTING_MEMBER, before is not None,
           "member has an earlier accepted event" if before is not None
           else "no earlier accepted event for this member")
    w_id = event.writing_agent_id
    d.note(Fact.WRITING_AGENT_PRESENT, w_id is not None,
           f"writing agent {w_id}" if w_id else "no writing agent", agent_id=w_id)
    w = d.look(w_id) if w_id is not None else None
    if w is not None:
        d.note(Fact.WRITING_AGENT_EXTERNAL, w.external, f"affiliation {_affiliation(w)}", w)
    if before is not None:
        # E1: an existing member's enrollment is a plan change through the writing agent.
        if w is not None and w.external:
            return _plan_change(d, before, route=Channel.AGENT_APPLICATION, internal=False,
                                protected=False, facilitator=w_id, output_channel=None)
        return _plan_change(d, before, route=None, internal=True, protected=True,
                            facilitator=w_id, output_channel=None)
    if w is None or w.internal:
        return d.ruling("E2", Outcome.HOUSE, Reason.NO_EXTERNAL_WRITING_AGENT, None, None,
                        w_id, None)
    if w.eligible:
        return d.ruling("E3", Outcome.ASSIGNED, Reason.NEW_ENROLLMENT, None, w_id, w_id, None)
    return d.ruling("E4", Outcome.HOUSE, Reason.WRITING_AGENT_INELIGIBLE, None, None, w_id,
                    None, review=True)


def _plan_change(d: _Decider, before: Position | None, *, route: Channel | None,
                 internal: bool, protected: bool, facilitator: str | None,
                 output_channel: Channel | None) -> Ruling:
    a_id = before.agent_of_record_id if before is not None else None
    f_id = facilitator
    d.note(Fact.ORIGINAL_AGENT_PRESENT, a_id is not None,
           f"current agent of record {a_id}" if a_id
           else "no agent of record (member unknown or house account)", agent_id=a_id)
    facilitated = route in FACILITATED_CHANNELS
    if a_id is None:
        if facilitated and f_id is not None:
            f = d.look(f_id)
            d.note(Fact.FACILITATOR_EXTERNAL, f.external, f"affiliation {_affiliation(f)}", f)
            if f.external and f.eligible:
                return d.ruling("1", Outcome.ASSIGNED, Reason.HOUSE_ACCOUNT_ASSIGNED, None,
                                f_id, f_id, output_channel)
            return d.ruling("2", Outcome.HOUSE, Reason.NO_ORIGINAL_AGENT, None, None, f_id,
                            output_channel, review=True)
        return d.ruling("2", Outcome.HOUSE, Reason.NO_ORIGINAL_AGENT, None, None, f_id,
                        output_channel)
    a = d.look(a_id)
    # Internal agents are never an AOR (policy.md, "Who is involved"): an original agent
    # whose snapshot in force now says INTERNAL (hired by the carrier) cannot be retained,
    # so "A eligible" in rows 3, 5, 9 and S2 means eligible and external.
    d.note(Fact.ORIGINAL_AGENT_EXTERNAL, a.external, f"affiliation {_affiliation(a)}", a)
    a_eligible = a.external and a.eligible
    route_text = route.value if route is not None else "existing member's enrollment"
    d.note(Fact.INTERNAL_CHANNEL, internal,
           f"{route_text} is an internal route" if internal
           else f"{route_text} is not an internal route")
    if internal:
        d.note(Fact.CHANNEL_PROTECTED, protected,
               "protected by the retention policy" if protected
               else "not protected under these policy settings")
        if not protected:
            return d.ruling("S1", Outcome.RELEASED, Reason.INTERNAL_CHANNEL_NOT_PROTECTED,
                            a_id, None, f_id, output_channel)
        if a_eligible:
            return d.ruling("3", Outcome.RETAINED, Reason.INTERNAL_PLAN_CHANGE_PROTECTED,
                            a_id, a_id, f_id, output_channel)
        return d.ruling("4", Outcome.RELEASED, Reason.ORIGINAL_AGENT_INELIGIBLE, a_id, None,
                        f_id, output_channel)
    same = f_id == a_id
    d.note(Fact.SAME_AGENT, same,
           f"facilitator {f_id} is the agent of record" if same
           else f"facilitator {f_id} is not the agent of record {a_id}", agent_id=f_id)
    if same:
        if a_eligible:
            return d.ruling("5", Outcome.RETAINED, Reason.ORIGINAL_AGENT_APPLICATION, a_id,
                            a_id, f_id, output_channel)
        return d.ruling("6", Outcome.RELEASED, Reason.ORIGINAL_AGENT_INELIGIBLE, a_id, None,
                        f_id, output_channel)
    assert f_id is not None, "validation guarantees a facilitator on facilitated channels"
    f = d.look(f_id)
    d.note(Fact.FACILITATOR_EXTERNAL, f.external, f"affiliation {_affiliation(f)}", f)
    if f.external and f.eligible:
        takes = d.settings.facilitator_takes_aor
        d.note(Fact.FACILITATOR_TAKES_AOR, takes,
               "an eligible external facilitator takes the AOR" if takes
               else "an eligible external facilitator does not take the AOR under these "
               "policy settings")
        if takes and route is Channel.AGENT_APPLICATION:
            return d.ruling("7", Outcome.TRANSFERRED, Reason.EXTERNAL_AGENT_FACILITATED, a_id,
                            f_id, f_id, output_channel)
        if takes:
            return d.ruling("8", Outcome.TRANSFERRED, Reason.EXTERNAL_CALL_CENTER_FACILITATED,
                            a_id, f_id, f_id, output_channel)
        if a_eligible:
            return d.ruling("S2", Outcome.RETAINED, Reason.FACILITATOR_DOES_NOT_TAKE_AOR, a_id,
                            a_id, f_id, output_channel)
        return d.ruling("S3", Outcome.RELEASED, Reason.ORIGINAL_AGENT_INELIGIBLE, a_id, None,
                        f_id, output_channel)
    if a_eligible:
        return d.ruling("9", Outcome.RETAINED, Reason.FACILITATOR_INELIGIBLE, a_id, a_id, f_id,
                        output_channel, review=True)
    return d.ruling("10", Outcome.RELEASED, Reason.ORIGINAL_AGENT_INELIGIBLE, a_id, None, f_id,
                    output_channel, review=True)


__all__ = ["INITIAL_YEAR_NOT_RECORDED", "ROW_TEXT", "Fact", "Position", "Ruling", "fact", "rule"]
