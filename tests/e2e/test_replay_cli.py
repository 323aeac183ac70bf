"""The replay and generate commands end to end, as a user runs them (subprocesses)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import Decoded, read_records
from processor.codec.kinds import RecordKind
from processor.domain.model import AorAssignment

OUTPUTS = ("assignments", "commission-adjustments")
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample"


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "processor", *map(str, args)],
                          capture_output=True, text=True, check=check, env=env)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _generate(folder: Path, members: int, *extra: str) -> dict[str, Any]:
    cli("generate", "--members", str(members), "--agents", str(max(20, members // 10)),
        "--seed", "7", "--output", folder, *extra)
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return manifest


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("history")
    return folder, _generate(folder, 2000, "--malformed-rate", "0.02")


def test_replay_twice_gives_identical_bytes_and_dead_letters_keep_lines(
        history: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, manifest = history
    first = cli("replay", "--input", folder, "--output", tmp_path / "a")
    cli("replay", "--input", folder, "--output", tmp_path / "b", "--quiet")
    for name in OUTPUTS:
        a = (tmp_path / "a" / f"{name}.jsonl").read_bytes()
        assert a, f"{name} is empty"
        assert a == (tmp_path / "b" / f"{name}.jsonl").read_bytes(), name
    letters_a = _lines(tmp_path / "a" / "dead-letters.jsonl")
    letters_b = _lines(tmp_path / "b" / "dead-letters.jsonl")
    for letter in letters_a + letters_b:
        letter.pop("failed_at")
    assert letters_a == letters_b
    # Every malformed line is a dead letter of the expected type, with its original text.
    assert Counter(d["error_type"] for d in letters_a) == Counter(
        manifest["malformed_by_error_type"])
    for letter in letters_a:
        assert letter["source"] in {"enrollments.jsonl", "plan-changes.jsonl",
                                    "agent-status.jsonl"}
        source_lines = (folder / letter["source"]).read_bytes().split(b"\n")
        assert base64.b64decode(letter["value"]) == source_lines[letter["offset"] - 1]
    assert "Decisions (first decision per event) by outcome and reason" in first.stdout
    assert "Dead letters by error type" in first.stdout


def test_every_good_event_gets_exactly_one_original_decision(
        history: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, manifest = history
    cli("replay", "--input", folder, "--output", tmp_path, "--quiet")
    originals = Counter(a["source_event_id"] for a in _lines(tmp_path / "assignments.jsonl")
                        if a["revision"] == 0)
    assert set(originals.values()) == {1}
    good = manifest["counts"]["enrollments"] + manifest["counts"]["plan-changes"]
    assert sum(originals.values()) == good
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["original_decisions"] == good
    assert sum(summary["dead_letters"].values()) == manifest["malformed_total"]


def test_avro_replay_agrees_with_json_lines(tmp_path: Path) -> None:
    jsonl, avro = tmp_path / "jsonl", tmp_path / "avro"
    _generate(jsonl, 300)
    _generate(avro, 300, "--format", "avro")
    cli("replay", "--input", jsonl, "--output", tmp_path / "out-jsonl", "--quiet")
    cli("replay", "--input", avro, "--output", tmp_path / "out-avro", "--quiet")
    epoch = datetime.now(UTC)
    for kind in (RecordKind.ASSIGNMENT, RecordKind.ADJUSTMENT):
        from_jsonl = _records(tmp_path / "out-jsonl" / f"{kind.value}.jsonl", kind, epoch)
        from_avro = _records(tmp_path / "out-avro" / f"{kind.value}.avro", kind, epoch)
        assert from_jsonl, kind
        assert from_jsonl == from_avro, kind
    assert all(isinstance(a, AorAssignment) for a in _records(
        tmp_path / "out-avro" / "assignments.avro", RecordKind.ASSIGNMENT, epoch))


def _records(path: Path, kind: RecordKind, failed_at: datetime) -> list[object]:
    decoded = list(read_records(path, kind, failed_at))
    assert not [d for d in decoded if isinstance(d, DeadLetter)], path
    return [d.record for d in decoded if isinstance(d, Decoded)]


def test_bad_configuration_fails_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    missing = cli("replay", "--input", tmp_path / "nowhere", "--output", tmp_path / "o",
                  check=False)
    assert missing.returncode == 2
    assert "input folder" in missing.stderr and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    schedule = tmp_path / "s.csv"
    schedule.write_text("plan_year,region,ma_initial,ma_renewal,pdp_initial,pdp_renewal\n"
                        "2026,NATIONAL,1,1,1,1\n")
    bad = cli("replay", "--input", tmp_path / "in", "--output", tmp_path / "o",
              "--schedule-file", schedule, check=False)
    assert bad.returncode == 2
    assert "plan year 2026 has no rates for region(s)" in bad.stderr


def test_help_explains_the_commands() -> None:
    out = cli("--help").stdout
    assert "Agent of Record" in out and "replay" in out and "generate" in out
    assert "--schedule-file" in cli("replay", "--help").stdout


@pytest.mark.slow
def test_replay_of_100k_members_twice_is_byte_identical(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    cli("generate", "--members", "100000", "--agents", "10000", "--seed", "11",
        "--malformed-rate", "0.005", "--output", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    # The two replays side by side, one per core: two separate processes all the same.
    env = {**os.environ, "COLUMNS": "120"}
    replays = [subprocess.Popen([sys.executable, "-m", "processor", "replay", "--input",
                                 str(folder), "--output", str(tmp_path / side), "--quiet"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for side in ("a", "b")]
    for replay in replays:
        _, err = replay.communicate(timeout=900)
        assert replay.returncode == 0, err.decode()[-2000:]
    for name in OUTPUTS:
        assert (tmp_path / "a" / f"{name}.jsonl").read_bytes() == \
            (tmp_path / "b" / f"{name}.jsonl").read_bytes(), name
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["original_decisions"] == (manifest["counts"]["enrollments"]
                                             + manifest["counts"]["plan-changes"])
    assert sum(summary["dead_letters"].values()) == manifest["malformed_total"]


def test_avro_outputs_are_byte_identical_across_processes(tmp_path: Path) -> None:
    """Hash randomisation must not leak into Avro headers (schema JSON key order)."""
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}"
        subprocess.run([sys.executable, "-m", "processor", "replay", "--input",
                        str(SAMPLE), "--output", str(out), "--format", "avro", "--quiet"],
                       check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        outputs.append(out)
    for name in OUTPUTS:
        assert (outputs[0] / f"{name}.avro").read_bytes() == \
            (outputs[1] / f"{name}.avro").read_bytes(), name


def test_members_held_encoded_beyond_the_bound_decide_the_same(tmp_path: Path) -> None:
    """`--members-in-memory` keeps the rest encoded and compressed; nothing else changes."""
    default = tmp_path / "default"
    bounded = tmp_path / "bounded"
    cli("replay", "--input", SAMPLE, "--output", default, "--quiet")
    cli("replay", "--input", SAMPLE, "--output", bounded, "--quiet",
        "--members-in-memory", "7")
    for name in ("assignments.jsonl", "commission-adjustments.jsonl", "summary.json"):
        assert (bounded / name).read_bytes() == (default / name).read_bytes(), name
    refused = cli("replay", "--input", SAMPLE, "--output", tmp_path / "x",
                  "--members-in-memory", "0", check=False)
    assert refused.returncode != 0 and "members_in_memory" in refused.stderr
