"""The synthetic history generator: deterministic, valid, realistic, and writable."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import Decoded, read_records
from processor.codec.jsonl import encode_line
from processor.codec.kinds import RecordKind
from processor.domain.model import (
    INTERNAL_CHANNELS,
    Affiliation,
    AgentStatus,
    AgentStatusSnapshot,
    Channel,
    Decision,
    Enrollment,
    ErrorType,
    PlanChange,
    PlanType,
    Reason,
)
from processor.domain.schedule import USPS_STATES, Region, region_of
from processor.domain.settings import PolicySettings
from processor.files.replay import replay
from processor.generate.history import (
    PLAN_YEARS,
    GeneratedHistory,
    GeneratorConfig,
    MalformedLine,
    generate,
    iter_agent_snapshots,
    iter_member_events,
    record_dict,
)
from processor.generate.write import write_history

CONFIG = GeneratorConfig(members=3000, agents=300, seed=11, malformed_rate=0.03)
ALL_ERROR_TYPES = {
    ErrorType.INVALID_RECORD.value, ErrorType.INVALID_STATE.value,
    ErrorType.INVALID_EFFECTIVE_DATE.value, ErrorType.MISSING_FACILITATOR.value,
    ErrorType.UNKNOWN_PLAN_YEAR.value, ErrorType.CONFLICTING_DUPLICATE.value,
}
FAILED_AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def history() -> GeneratedHistory:
    return generate(CONFIG)


def _events(h: GeneratedHistory) -> list[Enrollment | PlanChange]:
    return [*h.enrollments, *h.plan_changes]


def _files_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------ determinism


def test_same_config_gives_the_same_history(history: GeneratedHistory) -> None:
    assert generate(CONFIG) == history


def test_a_different_seed_gives_a_different_history(history: GeneratedHistory) -> None:
    other = generate(GeneratorConfig(members=3000, agents=300, seed=12, malformed_rate=0.03))
    assert other.enrollments != history.enrollments
    assert other.snapshots != history.snapshots


def test_malformed_rate_leaves_the_good_records_alone(history: GeneratedHistory) -> None:
    clean = generate(GeneratorConfig(members=3000, agents=300, seed=11))
    assert clean.malformed == ()
    assert (clean.snapshots, clean.enrollments, clean.plan_changes) == (
        history.snapshots, history.enrollments, history.plan_changes)


def test_output_bytes_do_not_depend_on_the_process(tmp_path: Path) -> None:
    """String hashing differs per process: set iteration order must never leak out."""
    script = (
        "import sys; from pathlib import Path\n"
        "from processor.generate.history import GeneratorConfig, generate\n"
        "from processor.generate.write import write_history\n"
        "write_history(generate(GeneratorConfig(members=300, agents=40, seed=5,"
        " malformed_rate=0.05)), Path(sys.argv[1]))\n"
    )
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
        digests.append(_files_digest(out))
    assert digests[0] == digests[1]


def test_streaming_forms_agree_with_generate() -> None:
    config = GeneratorConfig(members=200, agents=30, seed=4)
    h = generate(config)
    assert tuple(iter_agent_snapshots(config)) == h.snapshots
    streamed = [e for events in iter_member_events(config) for e in events]
    assert sorted(streamed, key=lambda e: e.event_id) == sorted(
        _events(h), key=lambda e: e.event_id)


@pytest.mark.parametrize("kwargs", [
    {"members": -1, "agents": 3, "seed": 1},
    {"members": 1, "agents": 0, "seed": 1},
    {"members": 1, "agents": 3, "seed": 1, "malformed_rate": 1.5},
    {"members": 1, "agents": 3, "seed": 1, "start": date(2026, 1, 1), "end": date(2025, 1, 1)},
])
def test_config_rejects_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GeneratorConfig(**kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------- invariants


def test_records_are_sorted_and_ids_unique(history: GeneratedHistory) -> None:
    assert list(history.snapshots) == sorted(
        history.snapshots, key=lambda s: (s.recorded_at, s.snapshot_id))
    for records in (history.enrollments, history.plan_changes):
        assert list(records) == sorted(records, key=lambda e: (e.recorded_at, e.event_id))
    assert len({s.snapshot_id for s in history.snapshots}) == len(history.snapshots)
    events = _events(history)
    assert len({e.event_id for e in events}) == len(events)
    assert len({e.member_id for e in history.enrollments}) == CONFIG.members


def test_times_are_utc_millis_inside_the_window(history: GeneratedHistory) -> None:
    lo = datetime.combine(CONFIG.start, datetime.min.time(), tzinfo=UTC)
    hi = datetime.combine(CONFIG.end, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    stamps: list[datetime] = []
    for e in _events(history):
        assert e.occurred_at <= e.recorded_at
        stamps += (e.occurred_at, e.recorded_at)
    for s in history.snapshots:
        assert s.effective_at <= s.recorded_at
        stamps += (s.effective_at, s.recorded_at)
    for t in stamps:
        assert t.utcoffset() == timedelta(0)
        assert t.microsecond % 1000 == 0
        assert lo <= t < hi


def test_plans_and_effective_dates_are_valid(history: GeneratedHistory) -> None:
    plan_id = {PlanType.MA: r"H\d{4}-\d{3}", PlanType.MAPD: r"H\d{4}-\d{3}",
               PlanType.PDP: r"S\d{4}-\d{3}"}
    for e in _events(history):
        plan = e.new_plan
        assert e.effective_date.day == 1
        assert e.effective_date.year == plan.plan_year
        assert plan.plan_year in PLAN_YEARS == (2024, 2025, 2026)
        assert re.fullmatch(plan_id[plan.plan_type], plan.plan_id)
        assert e.member_state in USPS_STATES
    froms = [c.from_plan for c in history.plan_changes]
    assert all(p.plan_year in PLAN_YEARS for p in froms if p is not None)
    assert None in froms


def test_every_region_and_plan_type_occurs(history: GeneratedHistory) -> None:
    assert {region_of(e.member_state) for e in history.enrollments} == set(Region)
    assert {e.plan.plan_type for e in history.enrollments} == set(PlanType)
    like = Counter((c.from_plan.plan_type.family == c.to_plan.plan_type.family)
                   for c in history.plan_changes if c.from_plan is not None)
    assert like[True] > like[False] > 0


def test_agents_cover_every_affiliation_status_and_correction(
        history: GeneratedHistory) -> None:
    snaps = history.snapshots
    agents = {s.agent_id: s.affiliation for s in snaps}
    share = Counter(agents.values())
    assert share[Affiliation.EXTERNAL] > share[Affiliation.INTERNAL] > share[
        Affiliation.CALL_CENTER] > 0
    assert {s.status for s in snaps} == set(AgentStatus)
    assert all(s.agency_id for s in snaps if s.affiliation is Affiliation.CALL_CENTER)
    assert all(s.agency_id is None for s in snaps if s.affiliation is not Affiliation.CALL_CENTER)
    late = [s for s in snaps if s.recorded_at - s.effective_at >= timedelta(days=7)]
    assert len(late) > 20
    # Backdated corrections: a later recording of the same agent and effective_at.
    first_seen: dict[tuple[str, datetime], AgentStatusSnapshot] = {}
    corrections = 0
    for s in snaps:
        earlier = first_seen.setdefault((s.agent_id, s.effective_at), s)
        if earlier is not s and s.recorded_at - earlier.recorded_at >= timedelta(days=20):
            corrections += 1
    assert corrections > 5
    # Annual certification covers the current and the next plan year; some lapse.
    # (Certification snapshots are the external ones effective during the day.)
    certs = [s for s in snaps if s.effective_at.month == 9 and s.affiliation.is_external
             and s.effective_at.time() != datetime.min.time()]
    assert len(certs) > 100
    assert all(s.certified_plan_years == (s.effective_at.year, s.effective_at.year + 1)
               for s in certs)
    external = {s.agent_id for s in snaps if s.affiliation.is_external
                and s.effective_at.date() == CONFIG.start}
    terminated = {s.agent_id for s in snaps if s.status is AgentStatus.TERMINATED}
    lapsed = {s.agent_id for s in snaps if s.agent_id in external - terminated}
    for s in snaps:
        if date(2024, 9, 1) <= s.effective_at.date() <= date(2024, 12, 31) and (
                2025 in s.certified_plan_years):
            lapsed.discard(s.agent_id)
    assert len(lapsed) > 3


def test_channels_and_facilitators(history: GeneratedHistory) -> None:
    affiliation = {s.agent_id: s.affiliation for s in history.snapshots}
    changes = history.plan_changes
    assert {c.channel for c in changes} == set(Channel)
    for c in changes:
        fac = c.facilitating_agent_id
        if c.channel in INTERNAL_CHANNELS:
            assert fac is None or affiliation[fac] is Affiliation.INTERNAL
            assert c.facilitating_agency_id is None
        elif c.channel is Channel.EXTERNAL_CALL_CENTER:
            assert fac is not None and affiliation[fac] is Affiliation.CALL_CENTER
            assert c.facilitating_agency_id
        else:
            assert fac is not None
    internal = [c for c in changes if c.channel in INTERNAL_CHANNELS]
    assert any(c.facilitating_agent_id is None for c in internal)
    writers = Counter(None if e.writing_agent_id is None else affiliation[e.writing_agent_id]
                      for e in history.enrollments)
    assert set(writers) == {None, *Affiliation}


def test_members_have_second_elections_and_out_of_order_events(
        history: GeneratedHistory) -> None:
    by_member: dict[str, list[Enrollment | PlanChange]] = defaultdict(list)
    for e in _events(history):
        by_member[e.member_id].append(e)
    out_of_order = second_elections = 0
    for events in by_member.values():
        by_occurred = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
        by_recorded = sorted(events, key=lambda e: (e.recorded_at, e.event_id))
        out_of_order += by_occurred != by_recorded
        jan = Counter(e.effective_date for e in events if e.effective_date.month == 1)
        second_elections += any(n > 1 for n in jan.values())
    assert out_of_order > 20
    assert second_elections > 50
    changes = Counter(len(v) - 1 for v in by_member.values())
    assert {0, 1, 2, 3, 4} <= set(changes)


def test_aep_and_oep_show_as_bursts(history: GeneratedHistory) -> None:
    months = Counter((e.occurred_at.year, e.occurred_at.month) for e in _events(history))
    quiet = sum(months[(2025, m)] for m in (5, 6, 7, 8)) / 4
    aep = sum(months[(2024, m)] for m in (10, 11, 12)) / 3
    oep = sum(months[(2025, m)] for m in (1, 2, 3)) / 3
    assert aep > 4 * quiet
    assert oep > 1.5 * quiet
    aep_enrollments = [e for e in history.enrollments if e.effective_date.month == 1
                       and date(e.effective_date.year - 1, 10, 15) <= e.occurred_at.date()
                       <= date(e.effective_date.year - 1, 12, 7)]
    assert len(aep_enrollments) > len(history.enrollments) / 2


# -------------------------------------------------------------------- malformed


def test_malformed_lines_cover_every_error_type(history: GeneratedHistory) -> None:
    counts = history.malformed_counts()
    assert set(counts["plan-changes"]) == ALL_ERROR_TYPES
    assert set(counts["enrollments"]) == ALL_ERROR_TYPES - {ErrorType.MISSING_FACILITATOR.value}
    assert set(counts["agent-status"]) == {ErrorType.INVALID_RECORD.value,
                                           ErrorType.CONFLICTING_DUPLICATE.value}
    good = len(history.snapshots) + len(history.enrollments) + len(history.plan_changes)
    assert 0.02 * good < len(history.malformed) < 0.04 * good
    assert sum(sum(c.values()) for c in counts.values()) == len(history.malformed)


def test_conflicting_duplicates_follow_their_original(history: GeneratedHistory) -> None:
    kinds: dict[str, Sequence[AgentStatusSnapshot | Enrollment | PlanChange]] = {
        "enrollments": history.enrollments, "plan-changes": history.plan_changes,
        "agent-status": history.snapshots}
    dupes = [m for m in history.malformed
             if m.expected_error_type == ErrorType.CONFLICTING_DUPLICATE.value]
    assert dupes
    for m in dupes:
        records = kinds[m.kind_stem]
        payload = json.loads(m.raw)
        key = "snapshot_id" if m.kind_stem == "agent-status" else "event_id"
        index = next(i for i, r in enumerate(records) if record_dict(r)[key] == payload[key])
        assert index <= m.after_index < len(records)
        assert payload != record_dict(records[index])
        assert payload["recorded_at"] == record_dict(records[index])["recorded_at"]


def test_record_dict_is_the_codec_json(history: GeneratedHistory) -> None:
    sample: list[AgentStatusSnapshot | Enrollment | PlanChange] = [
        *history.snapshots[:50], *history.enrollments[:50], *history.plan_changes[:50]]
    for r in sample:
        assert json.loads(encode_line(r)) == record_dict(r)


# ------------------------------------------------------------------------ write


def test_write_jsonl_places_malformed_lines(history: GeneratedHistory, tmp_path: Path) -> None:
    manifest = write_history(history, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    assert manifest["counts"] == {"enrollments": len(history.enrollments),
                                  "plan-changes": len(history.plan_changes),
                                  "agent-status": len(history.snapshots)}
    assert manifest["malformed"] == {
        k: history.malformed_counts()[k] for k in ("enrollments", "plan-changes", "agent-status")}
    assert manifest["config"] == CONFIG.as_dict()
    for kind in (RecordKind.ENROLLMENT, RecordKind.PLAN_CHANGE, RecordKind.AGENT_STATUS):
        path = tmp_path / f"{kind.value}.jsonl"
        bad: list[MalformedLine] = [m for m in history.malformed if m.kind_stem == kind.value]
        counts = manifest["counts"]
        assert isinstance(counts, dict)
        lines = path.read_bytes().split(b"\n")[:-1]
        assert len(lines) == counts[kind.value] + len(bad)
        items = list(read_records(path, kind, FAILED_AT))
        decoded = [i for i in items if isinstance(i, Decoded)]
        letters = [i for i in items if isinstance(i, DeadLetter)]
        # Only schema failures are the codec's; the other error types decode fine.
        assert len(letters) == sum(m.expected_error_type == ErrorType.INVALID_RECORD.value
                                   for m in bad)
        assert all(letter.error_type == ErrorType.INVALID_RECORD.value for letter in letters)
        good = {RecordKind.ENROLLMENT: history.enrollments,
                RecordKind.PLAN_CHANGE: history.plan_changes,
                RecordKind.AGENT_STATUS: history.snapshots}[kind]
        first_lines: dict[str, object] = {}
        for d in decoded:  # the first copy of each good id, in file order
            record_id = str(getattr(d.record, "snapshot_id", None)
                            or getattr(d.record, "event_id", None))
            if not record_id.startswith("bad-"):
                first_lines.setdefault(record_id, d.record)
        assert list(first_lines.values()) == list(good)


def test_write_avro_holds_good_records_only(tmp_path: Path) -> None:
    h = generate(GeneratorConfig(members=200, agents=30, seed=2, malformed_rate=0.1))
    manifest = write_history(h, tmp_path, "avro")
    assert manifest["malformed_total"] == 0 and "malformed_note" in manifest
    for kind, good in ((RecordKind.ENROLLMENT, h.enrollments),
                       (RecordKind.PLAN_CHANGE, h.plan_changes),
                       (RecordKind.AGENT_STATUS, h.snapshots)):
        items = list(read_records(tmp_path / f"{kind.value}.avro", kind, FAILED_AT))
        assert [i.record for i in items if isinstance(i, Decoded)] == list(good)


def test_writing_twice_gives_identical_bytes(tmp_path: Path) -> None:
    h = generate(GeneratorConfig(members=300, agents=40, seed=9, malformed_rate=0.05))
    write_history(h, tmp_path / "a")
    write_history(h, tmp_path / "b")
    assert _files_digest(tmp_path / "a") == _files_digest(tmp_path / "b")


# ----------------------------------------------------------------------- replay


class _Sink:
    def __init__(self) -> None:
        self.letters: Counter[tuple[str, str]] = Counter()
        self.reasons: Counter[Reason] = Counter()
        self.decisions_seen: list[Decision] = []

    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        self.decisions_seen.extend(decisions)
        for d in decisions:
            if d.assignment.revision == 0:
                self.reasons[d.assignment.reason] += 1

    def dead_letter(self, letter: DeadLetter) -> None:
        self.letters[(letter.source.split(".")[0], letter.error_type)] += 1


def test_replay_dead_letters_match_and_every_outcome_occurs(tmp_path: Path) -> None:
    h = generate(GeneratorConfig(members=1500, agents=150, seed=21, malformed_rate=0.05))
    manifest = write_history(h, tmp_path)
    sink = _Sink()
    replay(tmp_path, PolicySettings(), sink, lambda: FAILED_AT)
    expected = manifest["malformed"]
    assert isinstance(expected, dict)
    assert sink.letters == Counter({(kind, error): n for kind, per_type in expected.items()
                                    for error, n in per_type.items()})
    default_reasons = set(Reason) - {Reason.INTERNAL_CHANNEL_NOT_PROTECTED,
                                     Reason.FACILITATOR_DOES_NOT_TAKE_AOR}
    assert set(sink.reasons) == default_reasons
    assert min(sink.reasons.values()) >= 10


def test_the_history_has_what_the_commission_rules_are_about(tmp_path: Path) -> None:
    """Rules revision 2 needs first-quarter changes (rapid disenrollments), AEP changes after
    fourth-quarter enrollments (the exception) and mid-year changes in renewal years
    (months recovered at the renewal rate), and like changes in the initial year."""
    h = generate(GeneratorConfig(members=1500, agents=150, seed=21))
    write_history(h, tmp_path)
    sink = _Sink()
    replay(tmp_path, PolicySettings(), sink, lambda: FAILED_AT)
    found: Counter[str] = Counter()
    for decision in sink.decisions_seen:
        trace = {c.rule: c for c in decision.assignment.rule_trace}
        stop = next((a for a in decision.adjustments if a.kind.value == "STOP"), None)
        rapid = trace.get("RAPID_DISENROLLMENT")
        if rapid is not None and rapid.passed and decision.assignment.effective_date.month in (
                2, 3, 4):
            found["first-quarter rapid"] += 1
        if rapid is not None and "Annual Election Period exception" in rapid.detail:
            found["aep exception"] += 1
        if (stop is not None and stop.amount is not None and rapid is not None
                and not rapid.passed and stop.basis is not None
                and stop.basis.value == "RENEWAL"):
            found["mid-year renewal recovery"] += 1
        if trace.get("INITIAL_ENROLLMENT_YEAR") and trace["INITIAL_ENROLLMENT_YEAR"].passed:
            found["initial year"] += 1
    assert set(found) == {"first-quarter rapid", "aep exception", "mid-year renewal recovery",
                          "initial year"}, found
    assert min(found.values()) >= 10, found
