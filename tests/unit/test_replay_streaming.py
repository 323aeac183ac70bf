"""The replay's streamed input side (large folders) against the in-memory sort it replaces.

Beyond `in_memory` inputs the replay does not hold the decoded inputs: it reads each file
again while merging, with the out-of-order inputs kept as sorted runs (spilled to temporary
files). Forcing a tiny `in_memory` here must change nothing a sink sees: the same decisions
and dead letters, in the same order, the same clock readings and the same summary.
"""

from __future__ import annotations

import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import Decoded, read_records, write_records
from processor.codec.kinds import FileFormat, RecordKind
from processor.domain.model import Decision
from processor.domain.settings import PolicySettings
from processor.files.outputs import FileSink
from processor.files.replay import MergedInputs, _decode_all, input_files, replay
from processor.files.summary import RunSummary
from processor.generate.history import GeneratorConfig, generate
from processor.generate.write import write_history

Event = tuple[str, object]
TINY = 25  # inputs held in memory when forced: streams, and spills many runs


class _Recorder:
    """Every call a sink gets, in order."""

    def __init__(self) -> None:
        self.calls: list[Event] = []

    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        self.calls.append(("decisions", decisions))

    def dead_letter(self, letter: DeadLetter) -> None:
        self.calls.append(("dead_letter", letter))


class _TickingClock:
    """A clock that moves one second a reading, so the readings' order shows in failed_at."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _shuffle_lines(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for path in sorted(folder.glob("*.jsonl")):
        lines = path.read_bytes().splitlines(keepends=True)
        rng.shuffle(lines)
        path.write_bytes(b"".join(lines))


def _add_ties(folder: Path, seed: int) -> None:
    """Inputs with equal merge keys in two files: plan changes carrying the event_id and
    recorded_at of enrollments (the enrollment file comes first, so it wins the tie and the
    plan change is the conflicting duplicate), some of the enrollments moved to the end of
    their file (out of order) and some of the plan changes too."""
    rng = random.Random(seed)
    enrollments = folder / "enrollments.jsonl"
    changes = folder / "plan-changes.jsonl"
    e_lines = enrollments.read_bytes().splitlines(keepends=True)
    c_lines = changes.read_bytes().splitlines(keepends=True)
    template = json.loads(c_lines[0])
    good = [n for n, line in enumerate(e_lines) if line.startswith(b'{"event_id":"evt-')]
    chosen = sorted(rng.sample(good, 30))
    moved: list[bytes] = []
    for k, n in enumerate(chosen):
        enrollment = json.loads(e_lines[n])
        twin = {**template, **{f: enrollment[f] for f in (
            "event_id", "occurred_at", "recorded_at", "member_id", "member_state")}}
        line = json.dumps(twin, separators=(",", ":")).encode() + b"\n"
        if k % 3 == 0:
            c_lines.append(line)  # out of order at the end of its file
        else:
            c_lines.insert(rng.randrange(len(c_lines)), line)
        if k % 2 == 0:
            moved.append(e_lines[n])
            e_lines[n] = b""
    enrollments.write_bytes(b"".join(e_lines) + b"".join(moved))
    changes.write_bytes(b"".join(c_lines))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs in several orders: as generated (a few lines out of order, malformed lines,
    conflicting duplicates), shuffled, reversed, with ties across files (see _add_ties), and
    Avro with shuffled records."""
    history = generate(GeneratorConfig(members=400, agents=50, seed=13, malformed_rate=0.05))
    out: dict[str, Path] = {}
    out["generated"] = tmp_path_factory.mktemp("generated")
    write_history(history, out["generated"])
    out["shuffled"] = tmp_path_factory.mktemp("shuffled")
    write_history(history, out["shuffled"])
    _shuffle_lines(out["shuffled"], seed=3)
    out["reversed"] = tmp_path_factory.mktemp("reversed")
    write_history(history, out["reversed"])
    for path in out["reversed"].glob("*.jsonl"):
        path.write_bytes(b"".join(reversed(path.read_bytes().splitlines(keepends=True))))
    out["ties"] = tmp_path_factory.mktemp("ties")
    write_history(history, out["ties"])
    _add_ties(out["ties"], seed=5)
    out["avro-shuffled"] = tmp_path_factory.mktemp("avro")
    rng = random.Random(4)
    for kind, records in ((RecordKind.ENROLLMENT, history.enrollments),
                          (RecordKind.PLAN_CHANGE, history.plan_changes),
                          (RecordKind.AGENT_STATUS, history.snapshots)):
        shuffled = list(records)
        rng.shuffle(shuffled)
        write_records(out["avro-shuffled"] / f"{kind.value}.avro", kind, shuffled,
                      FileFormat.AVRO)
    return out


def _replay(folder: Path, in_memory: int | None) -> tuple[list[Event], dict[str, object],
                                                           list[tuple[int, int]]]:
    sink = _Recorder()
    progress: list[tuple[int, int]] = []
    summary = replay(folder, PolicySettings(), sink, _TickingClock(),
                     lambda done, total: progress.append((done, total)), in_memory=in_memory)
    return sink.calls, {**summary.to_json(), "members": summary.members}, progress


@pytest.mark.parametrize("name", ["generated", "shuffled", "reversed", "ties", "avro-shuffled"])
def test_streamed_replay_equals_the_in_memory_one(folders: dict[str, Path], name: str) -> None:
    calls, summary, progress = _replay(folders[name], None)
    streamed_calls, streamed_summary, streamed_progress = _replay(folders[name], TINY)
    assert sum(1 for kind, _ in calls if kind == "decisions") > 500
    if name != "avro-shuffled":  # Avro files hold good records only
        assert any(kind == "dead_letter" for kind, _ in calls)
    if name == "ties":  # the enrollments won their ties, out of order in their file or not
        twins = [letter for kind, letter in calls if isinstance(letter, DeadLetter)
                 and letter.source == "plan-changes.jsonl"
                 and letter.error_type == "CONFLICTING_DUPLICATE"]
        assert len(twins) >= 20
    assert streamed_calls == calls  # same outputs, same order, same clock readings
    assert streamed_summary == summary
    assert streamed_progress == progress
    inputs = summary["inputs"]
    assert isinstance(inputs, dict)
    assert progress[-1] == (sum(inputs.values()), sum(inputs.values()))


@pytest.mark.parametrize("name", ["generated", "shuffled", "ties", "avro-shuffled"])
def test_streamed_inputs_come_in_the_order_of_the_sorted_list(
        folders: dict[str, Path], name: str) -> None:
    files = input_files(folders[name])
    held = _decode_all(files, _TickingClock(), _Recorder(), RunSummary())
    streamed = _decode_all(files, _TickingClock(), _Recorder(), RunSummary(), in_memory=TINY)
    assert isinstance(held, list)
    assert isinstance(streamed, MergedInputs)
    if name not in ("generated", "ties"):
        assert streamed.spilled_runs > 1
    assert len(streamed) == len(held)
    assert list(streamed) == held
    with pytest.raises(RuntimeError, match="read once"):
        iter(streamed)


def test_generated_lines_out_of_order_are_few_and_stay_in_memory(
        folders: dict[str, Path]) -> None:
    """As generated, files are nearly in order: nothing is spilled with room for the few."""
    files = input_files(folders["generated"])
    streamed = _decode_all(files, _TickingClock(), _Recorder(), RunSummary(), in_memory=500)
    assert isinstance(streamed, MergedInputs)
    assert streamed.spilled_runs == 0


def test_streamed_file_outputs_are_byte_identical(folders: dict[str, Path],
                                                  tmp_path: Path) -> None:
    for fmt in FileFormat:
        outputs: list[dict[str, bytes]] = []
        for in_memory in (None, TINY):
            out = tmp_path / f"{fmt.value}-{in_memory}"
            with FileSink(out, fmt) as sink:
                replay(folders["shuffled"], PolicySettings(), sink,
                       lambda: datetime(2030, 1, 1, tzinfo=UTC), in_memory=in_memory)
            outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
        assert outputs[0] == outputs[1]
        assert len(outputs[0]) == 3


def test_dead_letters_of_bad_lines_all_come_before_any_decision(
        folders: dict[str, Path]) -> None:
    """As in memory: the decode pass writes them (in file order) before anything is decided."""
    calls, _, _ = _replay(folders["shuffled"], TINY)
    first_decision = next(n for n, (kind, _) in enumerate(calls) if kind == "decisions")
    decode_letters = [n for n, (kind, letter) in enumerate(calls)
                      if kind == "dead_letter" and isinstance(letter, DeadLetter)
                      and letter.error_type == "INVALID_RECORD"]
    assert decode_letters
    assert max(decode_letters) < first_decision


def test_a_file_changed_during_a_streamed_replay_is_an_error(tmp_path: Path) -> None:
    history = generate(GeneratorConfig(members=60, agents=10, seed=2))
    write_history(history, tmp_path)
    files = input_files(tmp_path)
    streamed = _decode_all(files, _TickingClock(), _Recorder(), RunSummary(), in_memory=TINY)
    assert isinstance(streamed, MergedInputs)
    path = tmp_path / "plan-changes.jsonl"
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    with pytest.raises(RuntimeError, match="changed during the replay"):
        list(streamed)


def test_a_streamed_replay_leaves_no_temporary_files(folders: dict[str, Path],
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    files = input_files(folders["shuffled"])
    streamed = _decode_all(files, _TickingClock(), _Recorder(), RunSummary(), in_memory=TINY)
    assert isinstance(streamed, MergedInputs)
    assert streamed.spilled_runs > 1
    assert list(spill.iterdir()) == []  # unnamed files
    for n, _ in enumerate(streamed):
        if n == 10:
            break
    streamed.close()
    assert list(spill.iterdir()) == []


def test_reading_again_gives_the_records_of_the_decode_pass(folders: dict[str, Path]) -> None:
    """What the streamed merge relies on: decoding a file twice gives equal records."""
    for path in input_files(folders["avro-shuffled"]).values():
        kind = RecordKind(path.stem)
        at = datetime(2030, 1, 1, tzinfo=UTC)
        first = [i for i in read_records(path, kind, at) if isinstance(i, Decoded)]
        second = [i for i in read_records(path, kind, at) if isinstance(i, Decoded)]
        assert first == second
