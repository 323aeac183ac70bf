"""Replay a time range of the input topics: it reproduces what the live run emitted."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from processor.config import load_settings
from processor.kafka import clients
from tests.integration.harness import Deployment, generate, lines, per_member

pytestmark = pytest.mark.kafka


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _in_range(folder: Path, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """Live outputs caused by inputs recorded in [start, end): decided_as_of is the
    recorded_at of the input that caused the decision."""
    kept = {a["decision_id"] for a in lines(folder / "assignments.jsonl")
            if start <= _instant(a["decided_as_of"]) < end}
    out: dict[str, list[dict[str, Any]]] = {}
    for name in ("assignments", "commission-adjustments"):
        for record in lines(folder / f"{name}.jsonl"):
            if record["decision_id"] in kept:
                out.setdefault(f"{name}/{record['member_id']}", []).append(record)
    return out


def _committed(app: Deployment) -> list[tuple[str, int, int]]:
    settings = load_settings(bootstrap_servers=app.bootstrap, application_id=app.name)
    consumer = clients.consumer(settings)
    try:
        tps = [TopicPartition(f"{app.name}.{t}", p) for t in ("enrollments", "plan-changes")
               for p in range(app.partitions)]
        return sorted((tp.topic, tp.partition, tp.offset)
                      for tp in consumer.committed(tps, timeout=30))
    finally:
        consumer.close()


def test_range_replay_reproduces_the_live_outputs_and_moves_no_offsets(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    history = generate(tmp_path / "history", 400, seed=33)
    app = Deployment(kafka_bootstrap)
    app.setup(history)
    app.cli("run", "--until-idle", "3", timeout=240)
    live = app.dump(tmp_path / "live")
    before = _committed(app)
    stamps = sorted(_instant(e["recorded_at"]) for e in
                    lines(history / "enrollments.jsonl") + lines(history / "plan-changes.jsonl"))
    start, end = stamps[len(stamps) * 2 // 5], stamps[len(stamps) * 4 // 5]
    ranged = tmp_path / "ranged"
    app.cli("replay", "--from-kafka", "--from", start.isoformat(), "--to", end.isoformat(),
            "--output", ranged, "--quiet")
    want = _in_range(live, start, end)
    got: dict[str, list[dict[str, Any]]] = {}
    for name in ("assignments", "commission-adjustments"):
        for member, records in per_member(ranged / f"{name}.jsonl").items():
            got[f"{name}/{member}"] = records
    assert want, "the range holds no decisions: pick another range"
    assert got == want
    # Nothing outside the range was emitted, and the live group did not move.
    assert all(start <= _instant(a["decided_as_of"]) < end
               for a in lines(ranged / "assignments.jsonl"))
    assert _committed(app) == before

    # The same range to prefixed topics holds the same records.
    app.cli("replay", "--from-kafka", "--from", start.isoformat(), "--to", end.isoformat(),
            "--output-prefix", "whatif.", "--quiet")
    prefixed = Deployment(kafka_bootstrap, name=app.name)
    env_topics = {k: f"whatif.{v}" for k, v in prefixed.env.items()
                  if k in ("AOR_ASSIGNMENTS_TOPIC", "AOR_ADJUSTMENTS_TOPIC",
                           "AOR_DEAD_LETTERS_TOPIC")}
    subprocess.run([sys.executable, "-m", "processor", "dump", "--output",
                    str(tmp_path / "prefixed")], check=True, capture_output=True,
                   env={**prefixed.env, **env_topics})
    assert lines(tmp_path / "prefixed" / "assignments.jsonl") and sorted(
        a["decision_id"] for a in lines(tmp_path / "prefixed" / "assignments.jsonl")) == sorted(
        a["decision_id"] for a in lines(ranged / "assignments.jsonl"))
