"""A deterministic synthetic history: agent-status snapshots, enrollments, plan changes.

Everything is drawn from `random.Random` instances seeded from `config.seed` (never the
wall clock or the global generator), with separate streams for agents, plans, members
and malformed lines, so that e.g. raising `malformed_rate` leaves the good records as
they were. Times are integer milliseconds since the epoch until a record is built.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from processor.domain.model import (
    INTERNAL_CHANNELS,
    Affiliation,
    AgentStatus,
    AgentStatusSnapshot,
    Channel,
    Enrollment,
    ErrorType,
    MemberEvent,
    PlanChange,
    PlanRef,
    PlanType,
)
from processor.domain.schedule import DEFAULT_SCHEDULE, USPS_STATES

PLAN_YEARS: tuple[int, ...] = tuple(sorted(DEFAULT_SCHEDULE.plan_years))

# Approximate Medicare population (thousands) by state: members and agents' home
# states follow it. Unlisted codes get a small weight so every USPS code can occur.
_POPULATION: dict[str, int] = {
    "CA": 6300, "FL": 4900, "TX": 4300, "NY": 3700, "PA": 2800, "OH": 2300, "IL": 2200,
    "MI": 2000, "NC": 2000, "GA": 1800, "NJ": 1600, "VA": 1500, "AZ": 1400, "WA": 1400,
    "TN": 1300, "MA": 1300, "IN": 1200, "MO": 1200, "WI": 1100, "SC": 1100, "MN": 1000,
    "AL": 1000, "CO": 950, "KY": 900, "LA": 850, "OR": 850, "OK": 700, "CT": 700,
    "PR": 800, "IA": 600, "AR": 600, "MS": 550, "NV": 550, "KS": 520, "UT": 420,
    "NM": 430, "WV": 420, "NE": 350, "ID": 350, "ME": 330, "NH": 300, "HI": 280,
    "RI": 210, "MT": 230, "DE": 220, "SD": 170, "ND": 130, "AK": 110, "VT": 140,
    "WY": 110, "DC": 95, "VI": 20, "GU": 20, "AS": 5, "MP": 5,
}
_STATES: tuple[str, ...] = tuple(sorted(USPS_STATES))  # sorted: set order varies by run
_STATE_CUM: tuple[int, ...] = tuple(accumulate(_POPULATION.get(s, 5) for s in _STATES))

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORD = date(1970, 1, 1).toordinal()

_MA_FAMILY = (PlanType.MA, PlanType.MAPD)
_CHANNEL_WEIGHTS: tuple[tuple[Channel, int], ...] = (
    (Channel.DEDICATED_PLAN_CHANGE_LINE, 16),
    (Channel.CUSTOMER_SERVICE_TRANSFER, 9),
    (Channel.INTERNAL_FIELD_SALES, 10),
    (Channel.INTERNAL_TELESALES, 10),
    (Channel.AGENT_APPLICATION, 35),
    (Channel.EXTERNAL_CALL_CENTER, 20),
)
_CHANNELS = tuple(c for c, _ in _CHANNEL_WEIGHTS)
_CHANNEL_CUM = tuple(accumulate(w for _, w in _CHANNEL_WEIGHTS))
_CHANGE_COUNT_CUM = tuple(accumulate((30, 30, 20, 12, 8)))  # 0..4 plan changes


@dataclass(frozen=True)
class GeneratorConfig:
    members: int
    agents: int
    seed: int
    malformed_rate: float = 0.0
    start: date = date(2023, 10, 1)
    end: date = date(2026, 9, 30)

    def __post_init__(self) -> None:
        if self.members < 0:
            raise ValueError("members cannot be negative")
        if self.agents < 1:
            raise ValueError("at least one agent is needed")
        if not 0.0 <= self.malformed_rate <= 1.0:
            raise ValueError("malformed_rate is a fraction of good records, in [0, 1]")
        if self.end <= self.start:
            raise ValueError("end must be after start")

    def as_dict(self) -> dict[str, object]:
        return {
            "members": self.members,
            "agents": self.agents,
            "seed": self.seed,
            "malformed_rate": self.malformed_rate,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A bad JSON line for file `kind_stem`.jsonl, written right after the good line
    at 0-based index `after_index` of that kind (-1: before the first good line)."""

    kind_stem: str
    raw: bytes
    expected_error_type: str
    after_index: int


@dataclass(frozen=True)
class GeneratedHistory:
    """Good records of each kind sorted by (recorded_at, id), plus malformed lines."""

    snapshots: tuple[AgentStatusSnapshot, ...]
    enrollments: tuple[Enrollment, ...]
    plan_changes: tuple[PlanChange, ...]
    malformed: tuple[MalformedLine, ...] = ()
    config: GeneratorConfig | None = None

    def malformed_counts(self) -> dict[str, dict[str, int]]:
        """kind stem -> expected error type -> count."""
        out: dict[str, Counter[str]] = {}
        for line in self.malformed:
            out.setdefault(line.kind_stem, Counter())[line.expected_error_type] += 1
        return {k: dict(sorted(c.items())) for k, c in sorted(out.items())}


# --------------------------------------------------------------------------- time


def _day_ms(ordinal: int) -> int:
    return (ordinal - _EPOCH_ORD) * _DAY_MS


def _dt(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _next_month_first(ordinal: int) -> date:
    d = date.fromordinal(ordinal)
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _business_ms(rng: random.Random) -> int:
    """A time of day when US offices are open (12:00-24:00 UTC)."""
    return rng.randrange(12 * _HOUR_MS, 24 * _HOUR_MS)


def _event_delay(rng: random.Random) -> int:
    """occurred -> recorded: mostly minutes, some hours, a few days or weeks late."""
    r = rng.random()
    if r < 0.75:
        return rng.randrange(_MINUTE_MS, 120 * _MINUTE_MS)
    if r < 0.90:
        return rng.randrange(2 * _HOUR_MS, 48 * _HOUR_MS)
    if r < 0.98:
        return rng.randrange(3 * _DAY_MS, 20 * _DAY_MS)
    return rng.randrange(21 * _DAY_MS, 56 * _DAY_MS)


def _snapshot_delay(rng: random.Random) -> int:
    """effective -> recorded for agent status: same day usually, sometimes weeks late."""
    r = rng.random()
    if r < 0.65:
        return rng.randrange(10 * _MINUTE_MS, 12 * _HOUR_MS)
    if r < 0.85:
        return rng.randrange(_DAY_MS, 5 * _DAY_MS)
    if r < 0.95:
        return rng.randrange(7 * _DAY_MS, 28 * _DAY_MS)
    return rng.randrange(35 * _DAY_MS, 70 * _DAY_MS)


@dataclass(frozen=True, slots=True)
class _Period:
    """Days [lo, hi] (ordinals, clipped to the window); `effective` fixed (AEP) or None
    (effective the first of the month after the day)."""

    lo: int
    hi: int
    effective: date | None


@dataclass(frozen=True, slots=True)
class _Window:
    start: int  # first day ordinal
    end: int  # last day ordinal
    end_ms: int  # last millisecond of the last day
    aeps: tuple[_Period, ...]
    oeps: tuple[_Period, ...]
    sep: _Period | None  # any day whose next month is in a plan year


def _window(config: GeneratorConfig) -> _Window:
    start, end = config.start.toordinal(), config.end.toordinal()

    def clip(lo: date, hi: date, effective: date | None) -> _Period | None:
        a, b = max(lo.toordinal(), start), min(hi.toordinal(), end)
        return _Period(a, b, effective) if a <= b else None

    aeps = [clip(date(y, 10, 15), date(y, 12, 7), date(y + 1, 1, 1))
            for y in range(config.start.year - 1, config.end.year + 1) if y + 1 in PLAN_YEARS]
    oeps = [clip(date(y, 1, 1), date(y, 3, 31), None) for y in PLAN_YEARS]
    sep = clip(date(PLAN_YEARS[0] - 1, 12, 1), date(PLAN_YEARS[-1], 11, 30), None)
    return _Window(start, end, _day_ms(end + 1) - 1,
                   tuple(p for p in aeps if p), tuple(p for p in oeps if p), sep)


# ------------------------------------------------------------------------- agents


@dataclass(frozen=True, slots=True)
class _State:
    status: AgentStatus
    licensed: frozenset[str]
    appointed: frozenset[str]
    certified: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Delta:
    kind: str  # status | cert | drop_lic | drop_appt | add_lic | add_appt
    status: AgentStatus = AgentStatus.ACTIVE
    state: str = ""
    years: tuple[int, ...] = ()

    def apply(self, s: _State) -> _State:
        if self.kind == "status":
            return _State(self.status, s.licensed, s.appointed, s.certified)
        if self.kind == "cert":
            return _State(s.status, s.licensed, s.appointed, self.years)
        if self.kind == "drop_lic":
            return _State(s.status, s.licensed - {self.state}, s.appointed - {self.state},
                          s.certified)
        if self.kind == "drop_appt":
            return _State(s.status, s.licensed, s.appointed - {self.state}, s.certified)
        if self.kind == "add_lic":
            return _State(s.status, s.licensed | {self.state}, s.appointed, s.certified)
        return _State(s.status, s.licensed, s.appointed | {self.state}, s.certified)


@dataclass(slots=True)
class _Change:
    day: int
    eff_ms: int
    rec_ms: int
    delta: _Delta | None  # None: the onboarding snapshot
    role: str = "normal"  # normal | hidden (true, recorded late) | phantom (false)


@dataclass(slots=True)
class _Agent:
    agent_id: str
    affiliation: Affiliation
    agency_id: str | None
    weight: float
    licensed_ever: frozenset[str]
    # The true timeline (what corrections converge to), for choosing agents.
    eff_ms: list[int] = field(default_factory=list)
    states: list[_State] = field(default_factory=list)

    def eligible(self, at_ms: int, state: str, plan_year: int) -> bool:
        i = bisect_right(self.eff_ms, at_ms) - 1
        if i < 0:
            return False
        s = self.states[i]
        return (s.status is AgentStatus.ACTIVE and state in s.licensed
                and state in s.appointed and plan_year in s.certified)


@dataclass(slots=True)
class _Pool:
    agents: list[_Agent] = field(default_factory=list)
    cum: list[float] = field(default_factory=list)

    def add(self, agent: _Agent) -> None:
        self.agents.append(agent)
        self.cum.append((self.cum[-1] if self.cum else 0.0) + agent.weight)

    def pick(self, rng: random.Random) -> _Agent | None:
        if not self.agents:
            return None
        return rng.choices(self.agents, cum_weights=self.cum)[0]


@dataclass(slots=True)
class _Agents:
    snapshots: list[AgentStatusSnapshot]
    external: _Pool  # EXTERNAL and CALL_CENTER
    call_center: _Pool
    internal: list[_Agent]
    external_by_state: dict[str, _Pool]
    call_center_by_state: dict[str, _Pool]


def _state(rng: random.Random) -> str:
    return rng.choices(_STATES, cum_weights=_STATE_CUM)[0]


def _cert_years(ordinal: int) -> tuple[int, ...]:
    """Certification covers the current plan year, and the next one from September on."""
    d = date.fromordinal(ordinal)
    return (d.year, d.year + 1) if d.month >= 9 else (d.year,)


def _affiliations(n: int, rng: random.Random) -> list[Affiliation]:
    n_internal = max(1, round(n * 0.15)) if n >= 3 else 0
    n_cc = max(1, round(n * 0.10)) if n >= 3 else 0
    out = ([Affiliation.INTERNAL] * n_internal + [Affiliation.CALL_CENTER] * n_cc
           + [Affiliation.EXTERNAL] * (n - n_internal - n_cc))
    rng.shuffle(out)
    return out


def _status_changes(rng: random.Random, w: _Window, onboard: int, licensed: frozenset[str],
                    appointed: frozenset[str], home: str) -> list[tuple[int, _Delta, str]]:
    """(day, delta, role) of an external agent's status history after onboarding."""
    out: list[tuple[int, _Delta, str]] = []
    lo = onboard + 1
    for year in range(date.fromordinal(w.start).year, date.fromordinal(w.end).year + 1):
        sept = date(year, 9, 1).toordinal()
        if onboard >= sept or sept > w.end:
            continue
        r = rng.random()
        if r < 0.90:  # on time, before marketing opens on Oct 1
            day = rng.randint(sept, min(sept + 29, w.end))
        elif r < 0.94:  # late: uncertified for the start of AEP
            day = rng.randint(sept + 30, sept + 90)
        else:  # missed this year's certification: a lapse
            continue
        out.append((day, _Delta("cert", years=(year, year + 1)), "normal"))

    def some_day(after: int, margin: int = 0) -> int | None:
        return rng.randint(after, w.end - margin) if after <= w.end - margin else None

    if rng.random() < 0.06 and (d := some_day(lo + 30, 10)) is not None:
        out.append((d, _Delta("status", status=AgentStatus.SUSPENDED), "normal"))
        out.append((d + rng.randint(30, 120), _Delta("status"), "normal"))
    others = sorted(licensed - {home})
    if others and rng.random() < 0.07 and (d := some_day(lo + 20)) is not None:
        out.append((d, _Delta("drop_lic", state=rng.choice(others)), "normal"))
    appointed_others = sorted(appointed - {home})
    if appointed_others and rng.random() < 0.04 and (d := some_day(lo + 20)) is not None:
        out.append((d, _Delta("drop_appt", state=rng.choice(appointed_others)), "normal"))
    if rng.random() < 0.05 and (d := some_day(lo + 20, 30)) is not None:
        new = _state(rng)
        if new not in licensed:
            out.append((d, _Delta("add_lic", state=new), "normal"))
            out.append((d + rng.randint(5, 45), _Delta("add_appt", state=new), "normal"))
    if rng.random() < 0.06 and (d := some_day(lo + 60)) is not None:
        out.append((d, _Delta("status", status=AgentStatus.TERMINATED), "normal"))
    if rng.random() < 0.03 and (d := some_day(lo + 10, 20)) is not None:
        # Recorded by mistake, corrected later (the agent was never suspended).
        wrong = rng.choice((AgentStatus.SUSPENDED, AgentStatus.TERMINATED))
        out.append((d, _Delta("status", status=wrong), "phantom"))
    return out


def _agent_snapshots(agent: _Agent, rng: random.Random, w: _Window,
                     onboard: int, initial: _State,
                     changes: list[tuple[int, _Delta, str]]) -> list[tuple[int, int, _State]]:
    """Build the agent's true timeline and return its snapshots as (recorded, effective,
    state), including backdated corrections."""
    used = {onboard}
    timeline: list[_Change] = []
    onboard_ms = _day_ms(onboard)
    first_rec = (onboard_ms + rng.randrange(_MINUTE_MS, 6 * _HOUR_MS) if onboard == w.start
                 else onboard_ms + _snapshot_delay(rng))
    timeline.append(_Change(onboard, onboard_ms, first_rec, None))
    for wanted, delta, role in sorted(changes, key=lambda c: (c[0], c[1].kind)):
        day = wanted
        while day in used:  # one change per agent and day keeps snapshots unambiguous
            day += 1
        if day > w.end:
            continue
        used.add(day)
        eff = _day_ms(day) + (_business_ms(rng) if delta.kind == "cert" else 0)
        timeline.append(_Change(day, eff, eff + _snapshot_delay(rng), delta, role))
    timeline.sort(key=lambda c: c.day)
    for i, c in enumerate(timeline):  # nothing happens to a terminated agent
        if (c.delta is not None and c.delta.kind == "status"
                and c.delta.status is AgentStatus.TERMINATED and c.role == "normal"):
            del timeline[i + 1:]
            break
    # Some true changes (a suspension, a lost licence, a termination) reach the
    # status feed only months later, as backdated snapshots.
    candidates = [i for i, c in enumerate(timeline)
                  if c.delta is not None and c.delta.kind != "cert" and c.role == "normal"]
    has_phantom = any(c.role == "phantom" for c in timeline)
    if candidates and not has_phantom and rng.random() < 0.30:
        timeline[rng.choice(candidates)].role = "hidden"
    fix = next((i for i, c in enumerate(timeline) if c.role != "normal"), None)
    reveal: int | None = None
    if fix is not None:
        c = timeline[fix]
        reveal = max(c.eff_ms + rng.randint(30, 180) * _DAY_MS + _business_ms(rng),
                     c.rec_ms + _DAY_MS)
        if reveal + len(timeline) > w.end_ms:
            reveal = None

    def believed(j: int, at_ms: int) -> _State:
        s = initial
        for c in timeline[1:j + 1]:
            assert c.delta is not None
            known = (c.role == "normal"
                     or (c.role == "hidden" and reveal is not None and at_ms >= reveal)
                     or (c.role == "phantom" and (reveal is None or at_ms < reveal)))
            if known:
                s = c.delta.apply(s)
        return s

    out: list[tuple[int, int, _State]] = []
    for j, c in enumerate(timeline):
        if c.role != "hidden" and c.rec_ms <= w.end_ms:
            out.append((c.rec_ms, c.eff_ms, believed(j, c.rec_ms)))
    if fix is not None and reveal is not None:
        for n, j in enumerate(range(fix, len(timeline))):
            c = timeline[j]
            if j == fix or c.rec_ms < reveal:
                out.append((reveal + n, c.eff_ms, believed(j, reveal)))
    truth = initial
    for c in timeline:
        if c.delta is not None and c.role != "phantom":
            truth = c.delta.apply(truth)
        elif c.delta is not None:
            continue
        agent.eff_ms.append(c.eff_ms)
        agent.states.append(truth)
    return out


def _build_agents(config: GeneratorConfig, w: _Window) -> _Agents:
    rng = random.Random(f"aor-generate/{config.seed}/agents")
    affiliations = _affiliations(config.agents, rng)
    n_cc = affiliations.count(Affiliation.CALL_CENTER)
    n_agencies = max(1, n_cc // 12)
    raw: list[tuple[int, str, int, _Agent, _State]] = []
    agents = _Agents([], _Pool(), _Pool(), [], {}, {})
    width = max(5, len(str(config.agents)))
    for index, affiliation in enumerate(affiliations, start=1):
        agent_id = f"agt-{index:0{width}d}"
        home = _state(rng)
        if affiliation is Affiliation.INTERNAL:
            licensed = frozenset({home, *(_state(rng) for _ in range(rng.randint(0, 3)))})
            years = tuple(range(date.fromordinal(w.start).year, PLAN_YEARS[-1] + 1))
            internal = _State(AgentStatus.ACTIVE, licensed, licensed, years)
            agent = _Agent(agent_id, affiliation, None, 1.0, licensed,
                           [_day_ms(w.start)], [internal])
            rec = _day_ms(w.start) + rng.randrange(_MINUTE_MS, 6 * _HOUR_MS)
            raw.append((rec, agent_id, _day_ms(w.start), agent, internal))
            agents.internal.append(agent)
            continue
        n_states = rng.choices((1, 2, 3, 4, 5), cum_weights=(30, 55, 75, 90, 100))[0]
        licensed_set = {home}
        for _ in range(4 * n_states):
            if len(licensed_set) >= n_states:
                break
            licensed_set.add(_state(rng))
        licensed = frozenset(licensed_set)
        appointed = licensed
        others = sorted(licensed - {home})
        if others and rng.random() < 0.20:  # licensed there, appointment still pending
            appointed = licensed - {rng.choice(others)}
        elif not others and rng.random() < 0.03:
            appointed = frozenset()
        agency = (f"agy-{rng.randint(1, n_agencies):03d}"
                  if affiliation is Affiliation.CALL_CENTER else None)
        onboard = w.start
        if rng.random() < 0.12 and w.start + 30 <= w.end - 120:
            onboard = rng.randint(w.start + 30, w.end - 120)
        initial = _State(AgentStatus.ACTIVE, licensed, appointed, _cert_years(onboard))
        changes = _status_changes(rng, w, onboard, licensed, appointed, home)
        ever = licensed | {c[1].state for c in changes if c[1].kind == "add_lic"}
        agent = _Agent(agent_id, affiliation, agency, rng.lognormvariate(0.0, 1.0), ever)
        for rec, eff, state in _agent_snapshots(agent, rng, w, onboard, initial,
                                                changes):
            raw.append((rec, agent_id, eff, agent, state))
        agents.external.add(agent)
        if affiliation is Affiliation.CALL_CENTER:
            agents.call_center.add(agent)
        for s in sorted(ever):
            agents.external_by_state.setdefault(s, _Pool()).add(agent)
            if affiliation is Affiliation.CALL_CENTER:
                agents.call_center_by_state.setdefault(s, _Pool()).add(agent)
    raw.sort(key=lambda r: (r[0], r[1], r[2]))
    width = max(6, len(str(len(raw))))
    for n, (rec, agent_id, eff, agent, state) in enumerate(raw, start=1):
        agents.snapshots.append(AgentStatusSnapshot(
            snapshot_id=f"snap-{n:0{width}d}",
            agent_id=agent_id,
            effective_at=_dt(eff),
            recorded_at=_dt(rec),
            affiliation=agent.affiliation,
            agency_id=agent.agency_id,
            status=state.status,
            licensed_states=tuple(sorted(state.licensed)),
            appointed_states=tuple(sorted(state.appointed)),
            certified_plan_years=state.certified,
        ))
    return agents


# -------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class _Catalog:
    ma: tuple[tuple[str, PlanType], ...]
    pdp: tuple[tuple[str, PlanType], ...]


def _catalog(seed: int) -> _Catalog:
    rng = random.Random(f"aor-generate/{seed}/plans")

    def plans(prefix: str, contracts: int, max_pbp: int) -> list[tuple[str, PlanType]]:
        out: list[tuple[str, PlanType]] = []
        for contract in sorted(rng.sample(range(1000, 10000), contracts)):
            for pbp in sorted(rng.sample(range(1, 30), rng.randint(1, max_pbp))):
                if prefix == "S":
                    kind = PlanType.PDP
                else:
                    kind = PlanType.MAPD if rng.random() < 0.8 else PlanType.MA
                out.append((f"{prefix}{contract:04d}-{pbp:03d}", kind))
        return out

    ma = plans("H", 24, 4)
    if not any(t is PlanType.MA for _, t in ma):
        ma[0] = (ma[0][0], PlanType.MA)
    return _Catalog(tuple(ma), tuple(plans("S", 6, 3)))


# ------------------------------------------------------------------------ members


@dataclass(slots=True)
class _Ctx:
    window: _Window
    agents: _Agents
    catalog: _Catalog


@dataclass(slots=True)
class _Member:
    member_id: str
    state: str
    plan: PlanRef
    effective: date
    aor: _Agent | None


def _pick_eligible(pool: _Pool | None, rng: random.Random, at_ms: int, state: str,
                   year: int) -> _Agent | None:
    if pool is None:
        return None
    for _ in range(8):
        agent = pool.pick(rng)
        if agent is not None and agent.eligible(at_ms, state, year):
            return agent
    return None


def _pick_ineligible(pool: _Pool, rng: random.Random, at_ms: int, state: str,
                     year: int) -> _Agent | None:
    agent = None
    for _ in range(8):
        agent = pool.pick(rng)
        if agent is not None and not agent.eligible(at_ms, state, year):
            return agent
    return agent


def _new_plan(rng: random.Random, catalog: _Catalog, year: int,
              like: PlanRef | None = None, unlike: bool = False) -> PlanRef:
    if like is None:
        family = catalog.pdp if rng.random() < 0.25 else catalog.ma
    else:
        is_pdp = like.plan_type is PlanType.PDP
        family = catalog.pdp if is_pdp != unlike else catalog.ma
    plan_id, plan_type = rng.choice(family)
    if like is not None and plan_id == like.plan_id and len(family) > 1:
        plan_id, plan_type = rng.choice([p for p in family if p[0] != like.plan_id])
    return PlanRef(plan_id, plan_type, year)


def _recorded(rng: random.Random, occurred: int, end_ms: int) -> int:
    return min(occurred + _event_delay(rng), end_ms)


def _enrollment(rng: random.Random, ctx: _Ctx, member_id: str, state: str, seq: int,
                after_day: int | None = None) -> tuple[Enrollment, _Member] | None:
    w = ctx.window
    aeps = [p for p in w.aeps if after_day is None or p.hi > after_day]
    if aeps and (rng.random() < 0.65 or w.sep is None):
        p = rng.choice(aeps)
        day = rng.randint(p.lo if after_day is None else max(p.lo, after_day + 1), p.hi)
        assert p.effective is not None
        effective = p.effective
    else:
        if w.sep is None:
            return None
        lo = w.sep.lo if after_day is None else max(w.sep.lo, after_day + 20)
        if lo > w.sep.hi:
            return None
        day = rng.randint(lo, w.sep.hi)
        effective = _next_month_first(day)
    occurred = _day_ms(day) + _business_ms(rng)
    plan = _new_plan(rng, ctx.catalog, effective.year)
    agents = ctx.agents
    r = rng.random()
    writer: _Agent | None
    if r < 0.78:
        writer = _pick_eligible(agents.external_by_state.get(state), rng, occurred, state,
                                effective.year)
        if writer is None:
            writer = agents.external.pick(rng)
    elif r < 0.86:  # an agent not licensed, appointed or certified for this sale
        writer = _pick_ineligible(agents.external, rng, occurred, state, effective.year)
    elif r < 0.93 or not agents.internal:
        writer = None
    else:
        writer = rng.choice(agents.internal)
    event = Enrollment(
        event_id=f"evt-{member_id[4:]}-{seq}",
        occurred_at=_dt(occurred),
        recorded_at=_dt(_recorded(rng, occurred, w.end_ms)),
        member_id=member_id,
        member_state=state,
        plan=plan,
        effective_date=effective,
        writing_agent_id=writer.agent_id if writer else None,
    )
    aor = (writer if writer is not None and writer.affiliation.is_external
           and writer.eligible(occurred, state, effective.year) else None)
    return event, _Member(member_id, state, plan, effective, aor)


def _change_day(rng: random.Random, w: _Window, m: _Member, last_day: int,
                last_aep: _Period | None) -> tuple[int, date] | None:
    """When the next change happens: a second election in the same AEP, the next OEP,
    the next AEP, or a special election period mid-year."""
    options: list[tuple[int, date, int]] = []
    if last_aep is not None and last_day < last_aep.hi:
        assert last_aep.effective is not None
        options.append((rng.randint(last_day + 1, last_aep.hi), last_aep.effective, 25))
    oep = next((p for p in w.oeps if p.hi > last_day
                and _next_month_first(p.hi) > m.effective), None)
    if oep is not None:
        lo = max(oep.lo, last_day + 1, m.effective.toordinal())
        if lo <= oep.hi:
            day = rng.randint(lo, oep.hi)
            options.append((day, _next_month_first(day), 30))
    aep = next((p for p in w.aeps if p.hi > last_day and p is not last_aep), None)
    if aep is not None and aep.effective is not None and aep.effective > m.effective:
        options.append((rng.randint(max(aep.lo, last_day + 1), aep.hi), aep.effective, 35))
    if w.sep is not None:
        lo = max(last_day + 20, m.effective.toordinal(), w.sep.lo)
        hi = min(last_day + 330, w.sep.hi)
        if lo <= hi:
            day = rng.randint(lo, hi)
            options.append((day, _next_month_first(day), 15))
    if not options:
        return None
    if len(options) == 1 and options[0][2] == 15 and rng.random() < 0.6:
        return None  # mid-year changes are rarer than period ones: no pile-up at the end
    day, effective, _ = rng.choices(options, cum_weights=list(
        accumulate(o[2] for o in options)))[0]
    return day, effective


def _plan_change(rng: random.Random, ctx: _Ctx, m: _Member, seq: int, day: int,
                 effective: date) -> PlanChange:
    agents = ctx.agents
    occurred = _day_ms(day) + _business_ms(rng)
    year = effective.year
    channel = rng.choices(_CHANNELS, cum_weights=_CHANNEL_CUM)[0]
    if channel is Channel.EXTERNAL_CALL_CENTER and not agents.call_center.agents:
        channel = Channel.AGENT_APPLICATION
    facilitator: _Agent | None = None
    if channel in INTERNAL_CHANNELS:
        if agents.internal and rng.random() < 0.75:
            facilitator = rng.choice(agents.internal)
    elif channel is Channel.AGENT_APPLICATION:
        r = rng.random()
        if m.aor is not None and r < 0.35:
            facilitator = m.aor
        elif r < 0.80:
            facilitator = _pick_eligible(agents.external_by_state.get(m.state), rng,
                                         occurred, m.state, year)
        if facilitator is None:
            if agents.internal and rng.random() < 0.2:
                facilitator = rng.choice(agents.internal)
            else:
                facilitator = _pick_ineligible(agents.external, rng, occurred, m.state, year)
    else:
        if rng.random() < 0.85:
            facilitator = _pick_eligible(agents.call_center_by_state.get(m.state), rng,
                                         occurred, m.state, year)
        if facilitator is None:
            facilitator = agents.call_center.pick(rng)
    if facilitator is None and channel not in INTERNAL_CHANNELS:
        channel = Channel.DEDICATED_PLAN_CHANGE_LINE  # no external agent at all
    from_plan: PlanRef | None = None
    if rng.random() < 0.92:
        rolled = max(m.plan.plan_year, date.fromordinal(effective.toordinal() - 1).year)
        from_plan = PlanRef(m.plan.plan_id, m.plan.plan_type, min(rolled, PLAN_YEARS[-1]))
    to_plan = _new_plan(rng, ctx.catalog, year, like=m.plan, unlike=rng.random() < 0.3)
    event = PlanChange(
        event_id=f"evt-{m.member_id[4:]}-{seq}",
        occurred_at=_dt(occurred),
        recorded_at=_dt(_recorded(rng, occurred, ctx.window.end_ms)),
        member_id=m.member_id,
        member_state=m.state,
        from_plan=from_plan,
        to_plan=to_plan,
        effective_date=effective,
        channel=channel,
        facilitating_agent_id=facilitator.agent_id if facilitator else None,
        facilitating_agency_id=(facilitator.agency_id if facilitator is not None
                                and channel is Channel.EXTERNAL_CALL_CENTER else None),
    )
    # Follow the policy roughly so "the original agent" stays plausible.
    def ok(a: _Agent | None) -> bool:
        return (a is not None and a.affiliation.is_external
                and a.eligible(occurred, m.state, year))

    if channel in INTERNAL_CHANNELS or facilitator is m.aor:
        m.aor = m.aor if ok(m.aor) else None
    elif ok(facilitator):
        m.aor = facilitator
    else:
        m.aor = m.aor if ok(m.aor) else None
    m.plan, m.effective = to_plan, effective
    return event


def _member_events(rng: random.Random, ctx: _Ctx, index: int,
                   width: int) -> tuple[MemberEvent, ...]:
    w = ctx.window
    member_id = f"mbr-{index:0{width}d}"
    state = _state(rng)
    first = _enrollment(rng, ctx, member_id, state, 0)
    if first is None:
        return ()
    enrollment, m = first
    events: list[MemberEvent] = [enrollment]
    last_day = enrollment.occurred_at.date().toordinal()
    last_aep = next((p for p in w.aeps if p.lo <= last_day <= p.hi
                     and p.effective == enrollment.effective_date), None)
    n_changes = rng.choices(range(5), cum_weights=_CHANGE_COUNT_CUM)[0]
    for seq in range(1, n_changes + 1):
        if rng.random() < 0.02:  # re-enrollment: a new application after earlier events
            again = _enrollment(rng, ctx, member_id, state, seq, after_day=last_day)
            if again is None or again[1].effective <= m.effective:
                break
            again[1].aor = again[1].aor or m.aor
            events.append(again[0])
            m = again[1]
            last_day = again[0].occurred_at.date().toordinal()
            last_aep = None
            continue
        when = _change_day(rng, w, m, last_day, last_aep)
        if when is None:
            break
        day, effective = when
        events.append(_plan_change(rng, ctx, m, seq, day, effective))
        last_aep = next((p for p in w.aeps if p.lo <= day <= p.hi
                         and p.effective == effective), None)
        last_day = day
    return tuple(events)


def _context(config: GeneratorConfig) -> _Ctx:
    w = _window(config)
    if not w.aeps and w.sep is None:
        raise ValueError(f"no enrollment period between {config.start} and {config.end} "
                         f"is effective in plan years {PLAN_YEARS}")
    return _Ctx(w, _build_agents(config, w), _catalog(config.seed))


def iter_agent_snapshots(config: GeneratorConfig) -> Iterator[AgentStatusSnapshot]:
    """Every agent-status snapshot, sorted by (recorded_at, snapshot_id)."""
    w = _window(config)
    yield from _build_agents(config, w).snapshots


def _iter_members(config: GeneratorConfig, ctx: _Ctx) -> Iterator[tuple[MemberEvent, ...]]:
    rng = random.Random(f"aor-generate/{config.seed}/members")
    width = max(7, len(str(config.members)))
    for index in range(1, config.members + 1):
        yield _member_events(rng, ctx, index, width)


def iter_member_events(config: GeneratorConfig) -> Iterator[tuple[MemberEvent, ...]]:
    """Each member's events in member order (one member at a time, in occurred_at
    order): the streaming form of `generate`, for runs too big to hold in memory."""
    yield from _iter_members(config, _context(config))


# ---------------------------------------------------------------------- malformed


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _plan_obj(p: PlanRef) -> dict[str, object]:
    return {"plan_id": p.plan_id, "plan_type": p.plan_type.value, "plan_year": p.plan_year}


def _plan_dict(p: PlanRef | None) -> dict[str, object] | None:
    return None if p is None else _plan_obj(p)


def record_dict(record: AgentStatusSnapshot | Enrollment | PlanChange) -> dict[str, object]:
    """The contract's JSON form of an input record (used to build malformed lines)."""
    if isinstance(record, AgentStatusSnapshot):
        return {
            "snapshot_id": record.snapshot_id,
            "agent_id": record.agent_id,
            "effective_at": _ts(record.effective_at),
            "recorded_at": _ts(record.recorded_at),
            "affiliation": record.affiliation.value,
            "agency_id": record.agency_id,
            "status": record.status.value,
            "licensed_states": list(record.licensed_states),
            "appointed_states": list(record.appointed_states),
            "certified_plan_years": list(record.certified_plan_years),
        }
    head: dict[str, object] = {
        "event_id": record.event_id,
        "occurred_at": _ts(record.occurred_at),
        "recorded_at": _ts(record.recorded_at),
        "member_id": record.member_id,
        "member_state": record.member_state,
    }
    if isinstance(record, Enrollment):
        return head | {
            "plan": _plan_dict(record.plan),
            "effective_date": record.effective_date.isoformat(),
            "writing_agent_id": record.writing_agent_id,
        }
    return head | {
        "from_plan": _plan_dict(record.from_plan),
        "to_plan": _plan_dict(record.to_plan),
        "effective_date": record.effective_date.isoformat(),
        "channel": record.channel.value,
        "facilitating_agent_id": record.facilitating_agent_id,
        "facilitating_agency_id": record.facilitating_agency_id,
    }


def _dumps(d: dict[str, object]) -> bytes:
    return json.dumps(d, separators=(",", ":")).encode()


_NOT_JSON: tuple[bytes, ...] = (
    b"not json at all",
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"mbr-0000001,H1234-001,2025-01-01,MAPD",
    b"{'single': 'quotes'}",
)
_INVALID = ErrorType.INVALID_RECORD.value
_EVENT_DEFECTS: tuple[tuple[str, str], ...] = (
    ("not_json", _INVALID),
    ("truncated", _INVALID),
    ("missing_field", _INVALID),
    ("wrong_type", _INVALID),
    ("unknown_enum", _INVALID),
    ("non_utf8", _INVALID),
    ("bad_state", ErrorType.INVALID_STATE.value),
    ("bad_effective_date", ErrorType.INVALID_EFFECTIVE_DATE.value),
    ("plan_year_2031", ErrorType.UNKNOWN_PLAN_YEAR.value),
    ("conflicting_duplicate", ErrorType.CONFLICTING_DUPLICATE.value),
)
_CHANGE_DEFECTS = (*_EVENT_DEFECTS, ("missing_facilitator", ErrorType.MISSING_FACILITATOR.value))
_SNAPSHOT_DEFECTS: tuple[tuple[str, str], ...] = (
    *_EVENT_DEFECTS[:6],
    ("conflicting_duplicate", ErrorType.CONFLICTING_DUPLICATE.value),
)


def _other_plan_id(plan_id: str) -> str:
    prefix, pbp = plan_id.rsplit("-", 1)
    return f"{prefix}-{(int(pbp) % 999) + 1:03d}"


def _defect(rng: random.Random, defect: str, record: AgentStatusSnapshot | Enrollment
            | PlanChange, new_id: str) -> bytes:
    d = record_dict(record)
    id_key = "snapshot_id" if isinstance(record, AgentStatusSnapshot) else "event_id"
    plan_key = "plan" if isinstance(record, Enrollment) else "to_plan"
    if defect == "conflicting_duplicate":  # same id and times, another payload
        if isinstance(record, AgentStatusSnapshot):
            d["status"] = ("SUSPENDED" if record.status is AgentStatus.ACTIVE else "ACTIVE")
        else:
            plan = d[plan_key]
            assert isinstance(plan, dict)
            d[plan_key] = plan | {"plan_id": _other_plan_id(str(plan["plan_id"]))}
        return _dumps(d)
    d[id_key] = new_id
    if defect == "not_json":
        return rng.choice(_NOT_JSON)
    if defect == "truncated":
        good = _dumps(d)
        return good[: rng.randint(10, len(good) - 10)]
    if defect == "non_utf8":
        return _dumps(d).replace(b'"' + new_id.encode(), b'"\xff\xfe' + new_id.encode(), 1)
    if defect == "missing_field":
        if isinstance(record, AgentStatusSnapshot):
            keys = ["agent_id", "effective_at", "recorded_at", "affiliation", "status"]
        else:
            keys = ["member_id", "occurred_at", "recorded_at", "member_state",
                    "effective_date", plan_key]
            if isinstance(record, PlanChange):
                keys.append("channel")
        del d[rng.choice(keys)]
        return _dumps(d)
    if defect == "wrong_type":
        if isinstance(record, AgentStatusSnapshot):
            d["licensed_states"] = ",".join(record.licensed_states)
        elif rng.random() < 0.5:
            d[plan_key] = record.new_plan.plan_id
        else:
            d["effective_date"] = [record.effective_date.year, record.effective_date.month, 1]
        return _dumps(d)
    if defect == "unknown_enum":
        if isinstance(record, AgentStatusSnapshot):
            d["status"] = "RETIRED"
        elif isinstance(record, PlanChange) and rng.random() < 0.5:
            d["channel"] = "WALK_IN"
        else:
            d[plan_key] = _plan_obj(record.new_plan) | {"plan_type": "HMO"}
        return _dumps(d)
    assert not isinstance(record, AgentStatusSnapshot)
    if defect == "bad_state":
        d["member_state"] = "ZZ"
    elif defect == "bad_effective_date":
        eff = record.effective_date
        d["effective_date"] = (eff.replace(day=15) if rng.random() < 0.5
                               else eff.replace(year=eff.year + 1)).isoformat()
    elif defect == "plan_year_2031":
        d[plan_key] = _plan_obj(record.new_plan) | {"plan_year": 2031}
        d["effective_date"] = "2031-01-01"
    elif defect == "missing_facilitator":
        d["channel"] = rng.choice(("AGENT_APPLICATION", "EXTERNAL_CALL_CENTER"))
        d["facilitating_agent_id"] = None
    return _dumps(d)


def iter_malformed(kind_stem: str,
                   records: Sequence[AgentStatusSnapshot | Enrollment | PlanChange],
                   config: GeneratorConfig) -> Iterator[MalformedLine]:
    """About `malformed_rate` bad lines per good line of one kind (sorted records), each
    derived from the good record it follows; a conflicting duplicate follows its original."""
    if config.malformed_rate <= 0 or not records:
        return
    rng = random.Random(f"aor-generate/{config.seed}/malformed/{kind_stem}")
    defects = (_SNAPSHOT_DEFECTS if kind_stem == "agent-status"
               else _CHANGE_DEFECTS if kind_stem == "plan-changes" else _EVENT_DEFECTS)
    rate, n = config.malformed_rate, 0
    for i, record in enumerate(records):
        if rng.random() >= rate:
            continue
        n += 1
        defect, error_type = rng.choice(defects)
        raw = _defect(rng, defect, record, f"bad-{kind_stem}-{n:07d}")
        yield MalformedLine(kind_stem, raw, error_type, i)


# ------------------------------------------------------------------------ history


def generate(config: GeneratorConfig) -> GeneratedHistory:
    """The whole history in memory, each kind sorted by (recorded_at, id)."""
    ctx = _context(config)
    enrollments: list[Enrollment] = []
    changes: list[PlanChange] = []
    for events in _iter_members(config, ctx):
        for e in events:
            if isinstance(e, Enrollment):
                enrollments.append(e)
            else:
                changes.append(e)
    enrollments.sort(key=lambda e: (e.recorded_at, e.event_id))
    changes.sort(key=lambda e: (e.recorded_at, e.event_id))
    snapshots = tuple(ctx.agents.snapshots)
    malformed = (*iter_malformed("agent-status", snapshots, config),
                 *iter_malformed("enrollments", enrollments, config),
                 *iter_malformed("plan-changes", changes, config))
    return GeneratedHistory(snapshots, tuple(enrollments), tuple(changes), malformed, config)
