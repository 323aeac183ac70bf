"""Two instances share the partitions; one is stopped mid-run and the other takes its
partitions over, with their state restored from the changelog (architecture.md
"Exactly-once loop", steps 4 and 5). Nothing is lost or doubled, and the outputs still
equal the file replay."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import (
    Deployment,
    assert_same_outputs,
    committed_offsets,
    end_offsets,
    generate,
    log_events,
    original_decisions,
    replay,
    terminate,
    wait_for,
)

pytestmark = pytest.mark.kafka

PARTITIONS = 6
# Longer than the session timeout (6 s, static membership) plus a rejoin, so the
# survivor is still running when the stopped instance's partitions are given to it.
SURVIVOR_IDLE_S = 14


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 3000, seed=51)


@pytest.fixture(scope="module")
def replayed(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(history, tmp_path_factory.mktemp("replayed"))


def owned(events: list[dict[str, Any]]) -> set[int]:
    """The partitions an instance holds after these log events (cooperative: each
    callback lists the partitions added or taken away)."""
    held: set[int] = set()
    for event in events:
        if event.get("event") == "partitions.assigned":
            held |= set(event["partitions"])
        elif event.get("event") == "partitions.revoked":
            held -= set(event["partitions"])
    return held


def restored(events: list[dict[str, Any]]) -> dict[int, int]:
    """partition -> members of its last restore."""
    return {e["partition"]: e["members"] for e in events
            if e.get("event") == "partition.restored"}


def test_a_stopped_instances_partitions_move_with_their_state(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    app = Deployment(kafka_bootstrap, partitions=PARTITIONS)
    manifest = app.setup(history)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    inputs = [app.topic("enrollments"), app.topic("plan-changes")]

    def progress(partitions: set[int]) -> int:
        """Input records committed by the group on these partitions."""
        committed = committed_offsets(kafka_bootstrap, app.name)
        return sum(max(0, offset) for (_, p), offset in committed.items() if p in partitions)

    # A decides in small transactions, so that it still has work on its partitions when
    # it is stopped (a fast A finished its share first and the test proved nothing).
    a = app.start("--batch-size", "3", instance="a", log=log_a)
    b: subprocess.Popen[bytes] | None = None
    try:
        # A works alone first, so B joins a group in the middle of its transactions.
        wait_for(lambda: progress(set(range(PARTITIONS))) > 0, 60, "a committed nothing")
        b = app.start("--batch-size", "10", "--until-idle", str(SURVIVOR_IDLE_S),
                      instance="b", log=log_b)

        def shared() -> bool:
            held_a, held_b = owned(log_events(log_a)), owned(log_events(log_b))
            return (bool(held_a) and bool(held_b)
                    and held_a | held_b == set(range(PARTITIONS))
                    and held_a <= set(restored(log_events(log_a)))
                    and held_b <= set(restored(log_events(log_b))))
        wait_for(shared, 60, "the two instances never shared the partitions")
        assert a.poll() is None and b.poll() is None, "an instance exited early"
        # Both got partitions; let A commit more on its share, then stop it mid-run.
        held_by_a = owned(log_events(log_a))
        before = progress(held_by_a)
        wait_for(lambda: progress(held_by_a) > before, 30, "a made no progress")

        held_by_a = owned(log_events(log_a))  # the same unless a rebalance just ran
        stopped_at = len(log_events(log_b))
        assert terminate(a) == 0, log_a.read_text()[-3000:]
        assert held_by_a and not held_by_a & owned(log_events(log_b)[:stopped_at])
        # The stop was mid-run: work was left on the stopped instance's partitions.
        ends = end_offsets(kafka_bootstrap, inputs)
        committed = committed_offsets(kafka_bootstrap, app.name)
        left = [tp for tp in ends if tp[1] in held_by_a and committed.get(tp, 0) < ends[tp]]
        assert left, "instance a had finished before it was stopped; use more data"

        # Static membership: the partitions move once the session times out.
        def taken_over() -> bool:
            return held_by_a <= owned(log_events(log_b))
        wait_for(taken_over, 40, f"b never took over {sorted(held_by_a)}")
        assert b.wait(120) == 0, log_b.read_text()[-3000:]
    finally:
        for process in (a, b):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(30)

    after = log_events(log_b)[stopped_at:]
    restores = {e["partition"]: e["members"] for e in after
                if e.get("event") == "partition.restored"}
    assert held_by_a <= set(restores), restores
    assert any(restores[p] > 0 for p in held_by_a), (
        f"no state restored from the changelog: {restores}")

    dumped = app.dump(tmp_path / "dump")
    originals = original_decisions(dumped)
    good = manifest["counts"]["enrollments"] + manifest["counts"]["plan-changes"]
    assert len(originals) == good, "an input event was lost"
    assert set(originals.values()) == {1}, "an original decision was doubled"
    assert_same_outputs(dumped, replayed)
    ends = end_offsets(kafka_bootstrap, inputs)
    assert committed_offsets(kafka_bootstrap, app.name) == ends
