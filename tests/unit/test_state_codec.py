"""Member state <-> changelog bytes: exact round trips, formats 1 and 2 still read, loud
failures.

decode_state trusts the changelog (it skips the contract validation), so these tests hold
it to the validating decoder: for every state of a generated history, and for a record
written by the format-1 code itself (state_codec_v1_member.json, saved before format 2).
Format 2 is checked against the records the format-2 code wrote for the bundled sample
(tests/fixtures/rules-1, saved before rules revision 2).
"""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.codec.fields import record_codec
from processor.codec.kinds import RecordKind
from processor.domain.engine import Engine
from processor.domain.member import Entry, MemberState, new_member
from processor.domain.model import (
    AdjustmentKind,
    AgentStatusSnapshot,
    Basis,
    Channel,
    CommissionAdjustment,
    Enrollment,
    MemberEvent,
    Outcome,
    PlanChange,
    PlanRef,
    PlanType,
    Reason,
)
from processor.domain.policy import INITIAL_YEAR_NOT_RECORDED, Position
from processor.domain.settings import PolicySettings
from processor.files.replay import merge_key
from processor.generate.history import GeneratorConfig, generate
from processor.state.codec import (
    STATE_VERSION,
    decode_state,
    encode_state,
    encode_state_v1,
    encode_state_v2,
)

GOLDEN_V1 = Path(__file__).with_name("state_codec_v1_member.json")
RULES_1_STATES = Path(__file__).parents[1] / "fixtures" / "rules-1" / "member-states.jsonl.gz"


def not_recorded(state: MemberState) -> MemberState:
    """The state as formats 1 and 2 carry it: no initial enrollment year recorded."""
    return replace(state, history=tuple(
        replace(e, position=replace(e.position, initial_year=INITIAL_YEAR_NOT_RECORDED))
        for e in state.history))


@cache
def generated_states() -> tuple[MemberState, ...]:
    """Every member of a replayed history: corrections, reversals, reviews, house accounts."""
    history = generate(GeneratorConfig(members=600, agents=60, seed=7))
    engine = Engine(PolicySettings())
    records: list[AgentStatusSnapshot | Enrollment | PlanChange] = [
        *history.snapshots, *history.enrollments, *history.plan_changes]
    for record in sorted(records, key=merge_key):
        if isinstance(record, AgentStatusSnapshot):
            engine.on_snapshot(record)
        else:
            engine.on_event(record)
    return tuple(engine.members.values())


def validated_v1(data: bytes) -> MemberState:
    """Format 1 through the contract's validating decoders (the decoder before format 2)."""
    body = orjson.loads(data)
    assert body["v"] == 1

    def event_of(value: list[Any]) -> MemberEvent:
        result = record_codec(RecordKind(value[0])).from_json(value[1])
        assert isinstance(result, Enrollment | PlanChange)
        return result

    def adjustment_of(value: dict[str, Any]) -> CommissionAdjustment:
        result = record_codec(RecordKind.ADJUSTMENT).from_json(value)
        assert isinstance(result, CommissionAdjustment)
        return result

    def plan_of(value: list[Any] | None) -> PlanRef | None:
        return None if value is None else PlanRef(value[0], PlanType(value[1]), value[2])

    history: list[Entry] = []
    seen: dict[str, MemberEvent] = {}
    for raw in body["history"]:
        event = event_of(raw["event"])
        p = raw["position"]
        plan = plan_of(p["plan"])
        assert plan is not None
        position = Position(p["aor"], plan, date.fromisoformat(p["effective_date"]),
                            None if p["start"] is None else adjustment_of(p["start"]),
                            plan_of(p["prior_plan"]), INITIAL_YEAR_NOT_RECORDED)
        history.append(Entry(
            event, raw["revision"], raw["decision_id"], Outcome(raw["outcome"]),
            Reason(raw["reason"]), raw["aor"], raw["review"],
            tuple(adjustment_of(a) for a in raw["adjustments"]),
            tuple((a, s) for a, s in raw["looked_at"]), position))
        seen[event.event_id] = event
    for raw in body["seen"]:
        event = event_of(raw)
        seen[event.event_id] = event
    return MemberState(body["member_id"], tuple(history), seen)


# --- format 3 -------------------------------------------------------------------------------


def test_generated_states_round_trip_exactly() -> None:
    states = generated_states()
    assert len(states) == 600
    # The sample covers what the codec special-cases.
    entries = [e for s in states for e in s.history]
    adjustments = [a for e in entries for a in e.adjustments]
    assert any(e.revision > 0 for e in entries)
    assert any(e.requires_review for e in entries)
    assert any(e.agent_of_record_id is None for e in entries)
    assert any(isinstance(e.event, PlanChange) and e.event.from_plan is None for e in entries)
    assert any(snap is None for e in entries for _, snap in e.looked_at)
    assert any(a.kind is AdjustmentKind.REVERSAL for a in adjustments)
    assert any(a.decision_id != e.decision_id for e in entries for a in e.adjustments)
    assert any(e.position.initial_year for e in entries)
    for state in states:
        data = encode_state(state)
        assert data.startswith(b"[%d," % STATE_VERSION)
        decoded = decode_state(data)
        assert decoded == state
        assert encode_state(decoded) == data  # and the bytes are stable


def test_decoded_values_have_the_domain_types() -> None:
    for state in generated_states()[:100]:
        decoded = decode_state(encode_state(state))
        assert isinstance(decoded.history, tuple)
        assert isinstance(decoded.seen, dict)
        for entry, original in zip(decoded.history, state.history, strict=True):
            event = entry.event
            assert type(event) is type(original.event)
            assert event.occurred_at.tzinfo is UTC and event.recorded_at.tzinfo is UTC
            assert type(event.effective_date) is date
            assert type(entry.outcome) is Outcome and type(entry.reason) is Reason
            assert isinstance(entry.adjustments, tuple)
            assert all(type(pair) is tuple for pair in entry.looked_at)
            assert decoded.seen[event.event_id] is event
            for adj, was in zip(entry.adjustments, original.adjustments, strict=True):
                assert type(adj.kind) is AdjustmentKind
                assert type(adj.plan.plan_type) is PlanType
                # The same Decimal, exponent included (Decimal('114') stays '114').
                assert repr(adj.amount) == repr(was.amount)
                assert repr(adj.annual_amount) == repr(was.annual_amount)
            start = entry.position.start
            if start is not None:
                assert any(start is adj for adj in entry.adjustments)
            assert entry.position.plan is event.new_plan


def test_format_3_is_much_smaller_than_format_1() -> None:
    states = generated_states()
    v3 = sum(len(encode_state(s)) for s in states)
    v1 = sum(len(encode_state_v1(s)) for s in states)
    assert v3 * 2 < v1


def test_a_new_member_round_trips() -> None:
    state = new_member("mbr-1")
    assert decode_state(encode_state(state)) == state
    assert decode_state(encode_state_v2(state)) == state
    assert decode_state(encode_state_v1(state)) == state


AT = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
MA = PlanRef("H1000-001", PlanType.MA, 2026)
PDP = PlanRef("S2000|001", PlanType.PDP, 2026)


def adjustment(adjustment_id: str, *, decision_id: str = "dec-1", member_id: str = "mbr-1",
               kind: AdjustmentKind = AdjustmentKind.START,
               amount: Decimal | None = Decimal("318.08"),
               plan: PlanRef = MA) -> CommissionAdjustment:
    return CommissionAdjustment(
        adjustment_id=adjustment_id, decision_id=decision_id, member_id=member_id,
        agent_id="agt-1", kind=kind, basis=None if kind is AdjustmentKind.STOP else Basis.INITIAL,
        plan=plan, effective_date=date(2026, 1, 1),
        months=None if amount is None else 12, annual_amount=amount, amount=amount,
        schedule_region=None if amount is None else "NATIONAL",
        reverses_adjustment_id=None, policy_version="v1")


def test_values_the_encoder_does_not_elide_are_kept() -> None:
    """Everything format 2 writes once has a case where it must be written twice."""
    enrollment = Enrollment("evt-0", AT, AT + timedelta(microseconds=1000), "mbr-1", "FL",
                            MA, date(2026, 1, 1), "agt-1")
    # Another member's event id, a plan id with the separator-looking "|", non-ASCII text.
    change = PlanChange("evt-1", AT.replace(microsecond=0), AT + timedelta(days=3),
                        "mbr-other", "PR", None, PDP, date(2026, 2, 1),
                        Channel.EXTERNAL_CALL_CENTER, "agt-ü", "agency-1")
    standing = adjustment("adj-0", decision_id="dec-0")
    elsewhere = adjustment("adj-x", decision_id="dec-old", member_id="mbr-other",
                           amount=Decimal("1E+2"))
    odd = adjustment("adj-1", decision_id="dec-1", amount=Decimal("-0.00"), plan=PDP)
    history = (
        Entry(enrollment, 0, "dec-0", Outcome.ASSIGNED, Reason.NEW_ENROLLMENT, "agt-1", False,
              (standing,), (("agt-1", "snap-1"),),
              # A START equal to, but not the object of, the entry's adjustment.
              Position("agt-1", MA, date(2026, 1, 1), adjustment("adj-0", decision_id="dec-0"),
                       None)),
        Entry(change, 2, "dec-1", Outcome.HOUSE, Reason.FACILITATOR_INELIGIBLE, None, True,
              (elsewhere, odd, adjustment("adj-2", kind=AdjustmentKind.STOP, amount=None)),
              (("agt-ü", None), ("agt-2", "snap-2")),
              # A position whose plan and date are not its event's, and a START of its own.
              Position(None, MA, date(2026, 3, 1), elsewhere, PDP)),
    )
    # A seen event that is not in the history, and one seen under a different object.
    forgotten = Enrollment("evt-gone", AT, AT, "mbr-1", "FL", MA, date(2026, 1, 1), None)
    seen: dict[str, MemberEvent] = {"evt-0": enrollment, "evt-1": change,
                                    "evt-gone": forgotten}
    state = MemberState("mbr-1", history, seen)
    data = encode_state(state)
    decoded = decode_state(data)
    assert decoded == state
    assert encode_state(decoded) == data
    assert repr(decoded.history[1].adjustments[0].amount) == "Decimal('1E+2')"
    assert repr(decoded.history[1].adjustments[1].amount) == "Decimal('-0.00')"
    assert decoded.history[1].event.occurred_at == AT.replace(microsecond=0)
    assert decoded.history[1].position.start == elsewhere


# --- any state (hypothesis) ------------------------------------------------------------------

TEXT = st.text(min_size=0, max_size=6)
IDS = st.sampled_from(["a", "b", "mbr-1", "", "x|y", "é"]) | TEXT
INSTANTS = st.datetimes(min_value=datetime(1970, 1, 1),  # noqa: DTZ001 (naive bounds)
                        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                        timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond - d.microsecond % 1000))
DATES = st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 1, 1))
PLANS = st.builds(PlanRef, IDS, st.sampled_from(PlanType), st.integers(2000, 2100))
MONEY = st.none() | st.decimals(min_value=Decimal("-9999999999.99"),
                                max_value=Decimal("9999999999.99"), places=2)
ADJUSTMENTS = st.builds(
    CommissionAdjustment, IDS, IDS, IDS, IDS, st.sampled_from(AdjustmentKind),
    st.none() | st.sampled_from(Basis), PLANS, DATES, st.none() | st.integers(0, 12), MONEY,
    MONEY, st.none() | IDS, st.none() | IDS, IDS)
OPTIONAL_IDS = st.none() | IDS
EVENTS = st.one_of(
    st.builds(Enrollment, IDS, INSTANTS, INSTANTS, IDS, IDS, PLANS, DATES, OPTIONAL_IDS),
    st.builds(PlanChange, IDS, INSTANTS, INSTANTS, IDS, IDS, st.none() | PLANS, PLANS, DATES,
              st.sampled_from(Channel), OPTIONAL_IDS, OPTIONAL_IDS))


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    event = draw(EVENTS)
    adjustments = tuple(draw(st.lists(ADJUSTMENTS, max_size=3)))
    start_choice = draw(st.sampled_from(["none", "own", "other"]))
    start: CommissionAdjustment | None = None
    if start_choice == "own" and adjustments:
        start = draw(st.sampled_from(adjustments))
    elif start_choice == "other":
        start = draw(ADJUSTMENTS)
    plan = event.new_plan if draw(st.booleans()) else draw(PLANS)
    effective = event.effective_date if draw(st.booleans()) else draw(DATES)
    position = Position(draw(OPTIONAL_IDS), plan, effective, start, draw(st.none() | PLANS),
                        draw(st.none() | st.integers(0, 2100)))
    looked_at = tuple(draw(st.lists(st.tuples(IDS, OPTIONAL_IDS), max_size=3)))
    return Entry(event, draw(st.integers(0, 5)), draw(IDS), draw(st.sampled_from(Outcome)),
                 draw(st.sampled_from(Reason)), draw(OPTIONAL_IDS), draw(st.booleans()),
                 adjustments, looked_at, position)


@st.composite
def states(draw: st.DrawFn) -> MemberState:
    history = tuple(draw(st.lists(entries(), max_size=3)))
    seen: dict[str, MemberEvent] = {e.event.event_id: e.event for e in history}
    for extra in draw(st.lists(EVENTS, max_size=2)):
        seen[extra.event_id] = extra
    return MemberState(draw(IDS), history, seen)


@settings(max_examples=300, deadline=None)
@given(states())
def test_any_state_round_trips(state: MemberState) -> None:
    data = encode_state(state)
    decoded = decode_state(data)
    assert decoded == state
    assert encode_state(decoded) == data


# --- format 1 ---------------------------------------------------------------------------------


def test_format_1_records_decode_as_the_validating_decoder_did() -> None:
    for state in generated_states():
        data = encode_state_v1(state)
        assert data.startswith(b'{"v":1,')
        decoded = decode_state(data)
        assert decoded == not_recorded(state)
        assert decoded == validated_v1(data)


def test_a_record_written_by_the_format_1_code_still_decodes() -> None:
    data = GOLDEN_V1.read_bytes().strip()
    decoded = decode_state(data)
    assert decoded == validated_v1(data)
    assert decoded.member_id == "mbr-0000305"
    change = decoded.history[1]
    assert change.revision == 1
    assert [a.kind for a in change.adjustments] == [AdjustmentKind.START,
                                                   AdjustmentKind.REVERSAL]
    assert change.adjustments[1].amount == Decimal("-694.00")
    assert change.position.start == change.adjustments[0]
    # encode_state_v1 still writes those very bytes, and format 3 carries the state exactly.
    assert encode_state_v1(decoded) == data
    assert decode_state(encode_state(decoded)) == decoded


# --- format 2 -----------------------------------------------------------------------------------


def test_format_2_records_decode_without_an_initial_enrollment_year() -> None:
    for state in generated_states():
        data = encode_state_v2(state)
        assert data.startswith(b"[2,")
        assert decode_state(data) == not_recorded(state)


def test_records_written_by_the_format_2_code_still_decode() -> None:
    """The changelog records the format-2 code wrote for the bundled sample's 300 members."""
    with gzip.open(RULES_1_STATES, "rb") as lines:
        records = [orjson.loads(line) for line in lines]
    assert len(records) == 300
    for member_id, body in records:
        data = orjson.dumps(body)
        decoded = decode_state(data)
        assert decoded.member_id == member_id and decoded.history
        assert {e.position.initial_year for e in decoded.history} == {
            INITIAL_YEAR_NOT_RECORDED}
        # encode_state_v2 writes those very bytes: format 2 is format 3 less the year.
        assert encode_state_v2(decoded) == data
        assert decode_state(encode_state(decoded)) == decoded


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"[4,\"mbr-1\",[],[]]",  # a format from the future
    b"[0,\"mbr-1\",[],[]]",
    b"{\"v\":7,\"member_id\":\"mbr-1\",\"history\":[],\"seen\":[]}",
    b"[2,\"mbr-1\",[]]",  # a field short
    b"[2,\"mbr-1\",[[1,2,3]],[]]",
    b"[2,\"mbr-1\",[],[[9,\"evt\"]]]",  # an unknown event tag
    b"{\"v\":1,\"member_id\":\"mbr-1\"}",
    b"\"mbr-1\"",
    b"not json",
])
def test_a_malformed_record_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_state(data)


def test_an_unknown_symbol_raises_value_error() -> None:
    state = next(s for s in generated_states()
                 if s.history and s.history[0].outcome is Outcome.ASSIGNED)
    data = encode_state(state).replace(b'"ASSIGNED"', b'"NOT_A_SYMBOL"', 1)
    assert data != encode_state(state)
    with pytest.raises(ValueError, match="NOT_A_SYMBOL"):
        decode_state(data)


def test_a_dataclass_the_encoder_does_not_know_is_refused() -> None:
    state = generated_states()[0]
    entry = state.history[0]
    odd = Entry(entry.event, entry.revision, entry.decision_id, entry.outcome, entry.reason,
                entry.agent_of_record_id, entry.requires_review, entry.adjustments,
                ((PlanRef("p", PlanType.MA, 2026), None),),  # type: ignore[arg-type]
                entry.position)
    with pytest.raises(TypeError):
        encode_state(MemberState(state.member_id, (odd,), {entry.event.event_id: entry.event}))
