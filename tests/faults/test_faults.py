"""The fault suite: a generated history driven through `aor-processor run` while the
processor is SIGKILLed at random points, the broker restarts once, a second instance
joins and leaves, and the agent-status feed pauses (scenario.py). Then the outputs are
checked against the file replay (checks.py) and the figures printed.

``AOR_FAULTS_SCALE=large`` runs about 200,000 events with 12 kills (conftest.py).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processor.devkafka.broker import LocalKafka
from processor.runtime.watchdog import EXIT_STALLED
from tests.faults.checks import Comparison, compare, open_since
from tests.faults.conftest import Scale
from tests.faults.scenario import (
    BROKER_RESTART,
    FaultRun,
    RunRecord,
    log_counts,
    split_history,
)
from tests.integration.harness import (
    Deployment,
    committed_offsets,
    end_offsets,
    generate,
    open_transactions,
    replay,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

MALFORMED_RATE = 0.005
# An instance may end on its own only as the consequence of the broker restart: the
# watchdog's exit once a transactional call hung (30 s timeout + 15 s grace), or a
# fatal client error; started again, it must carry on.
AFTER_RESTART_S = 150.0


def test_kills_a_broker_restart_a_second_instance_and_a_paused_feed_lose_and_double_nothing(
        fault_kafka: LocalKafka, fault_scale: Scale, fault_seed: int, tmp_path: Path,
        report_figures: Callable[[str], None]) -> None:
    rng = random.Random(fault_seed)
    history = generate(tmp_path / "history", fault_scale.members, seed=fault_seed,
                       malformed=MALFORMED_RATE)
    replayed = replay(history, tmp_path / "replayed")
    split = split_history(history, tmp_path / "inputs", held_share=rng.uniform(0.25, 0.45))
    app = Deployment(fault_kafka.bootstrap_servers, partitions=6,
                     extra_env={"AOR_MAX_GATE_WAIT_MS": "500"})
    app.cli("topics", "create")
    app.cli("load", "--input", split.first)

    record = FaultRun(fault_kafka, app, split, tmp_path, rng, fault_scale.kills,
                      fault_scale.deadline_s).run()

    outputs = [app.topic(stem) for stem in ("assignments", "commission-adjustments",
                                            "dead-letters", "member-state.changelog")]
    still_open: list[tuple[str, int]] = []

    def settled() -> bool:
        still_open[:] = open_transactions(app.bootstrap, outputs)
        return not still_open

    try:
        wait_for(settled, 90, "transactions still open")
    except AssertionError as error:
        raise AssertionError("\n".join([
            str(error), *open_since(app.bootstrap, still_open),
            f"broker log {fault_kafka.log_file}", *log_tails(record.log_files)])) from None
    inputs = [app.topic("enrollments"), app.topic("plan-changes")]
    offsets_at_end = committed_offsets(app.bootstrap, app.name) == end_offsets(
        app.bootstrap, inputs)
    dumped = app.dump(tmp_path / "dump")
    comparison = compare(dumped, replayed, app)
    counts = log_counts(record.log_files)
    figures = make_figures(fault_scale, fault_seed, split.snapshots, split.held, record,
                           comparison, counts)
    publish(figures, tmp_path, report_figures)

    tails = "\n".join(log_tails(record.log_files[-3:]))
    assert not comparison.problems(), "\n".join(comparison.problems())
    assert comparison.duplicates == 0 and comparison.losses == 0
    assert offsets_at_end, "the group's committed offsets are not the inputs' ends"
    assert len(record.kills) >= fault_scale.kills, record.kills
    assert len(record.broker_restarts) == 1
    assert record.resumed_at is not None, "the agent-status feed never resumed"
    assert counts["held_by"].get("b"), f"the second instance never held a partition\n{tails}"
    # SIGTERM drains and exits 0, unless the instance hung in a transactional call after
    # the broker restart: then the watchdog ends it (exit 3), SIGTERM or not.
    assert record.second_stop_code in (0, EXIT_STALLED), (
        f"SIGTERM of b: exit {record.second_stop_code}")
    assert record.final_stop_code in (0, EXIT_STALLED), (
        f"SIGTERM of a: exit {record.final_stop_code}\n{tails}")
    assert record.final_run_code == 0, f"the final run exited {record.final_run_code}\n{tails}"
    # An instance ends on its own only as a consequence of the broker restart.
    restarted_at = record.broker_restarted_at[0]
    for stalled in counts["stalled"]:
        assert restarted_at <= stalled <= restarted_at + AFTER_RESTART_S, (
            f"a watchdog exit {stalled - restarted_at:.0f} s after the broker restart\n{tails}")
    broker_restart_second = next(at for kind, _, at in record.landed if kind == BROKER_RESTART)
    for name, code, at in record.unplanned:
        assert broker_restart_second <= at <= broker_restart_second + AFTER_RESTART_S, (
            f"instance {name} exited {code} on its own {at:.0f} s into the run, not after "
            f"the broker restart ({broker_restart_second:.0f} s)\n{tails}")


def make_figures(scale: Scale, seed: int, snapshots: int, held: int, record: RunRecord,
                 comparison: Comparison, counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "scale": scale.name,
        "seed": seed,
        "members": comparison.members,
        "events": comparison.events,
        "snapshots": snapshots,
        "snapshots_held_back": held,
        "kills": len(record.kills),
        "processor_starts": len(record.log_files),
        "unplanned_exits": [code for _, code, _ in record.unplanned],
        "watchdog_exits": len(counts["stalled"]),
        "broker_restarts": len(record.broker_restarts),
        "broker_restart_seconds": record.broker_restarts,
        "rebalances": counts["assigned"],
        "revocations": counts["revoked"],
        "second_instance_partitions": counts["held_by"].get("b", []),
        "aborted_transactions": counts["aborted"],
        "corrections": comparison.corrections,
        "dead_letters": comparison.dead_letters,
        "duplicates": comparison.duplicates,
        "losses": comparison.losses,
        "mismatches": comparison.mismatches,
        "seconds": round(record.seconds),
        "faults": [{"fault": kind, "progress": share, "second": at}
                   for kind, share, at in record.landed],
        "exit_codes": {"second_instance_sigterm": record.second_stop_code,
                       "sigterm": record.final_stop_code, "final_run": record.final_run_code,
                       "watchdog": EXIT_STALLED},
    }


def publish(figures: dict[str, Any], folder: Path, keep: Callable[[str], None]) -> None:
    text = json.dumps(figures, indent=2)
    (folder / "faults-figures.json").write_text(text + "\n")
    extra = os.environ.get("AOR_FAULTS_REPORT")
    if extra:
        Path(extra).write_text(text + "\n")
    line = (f"faults ({figures['scale']}, seed {figures['seed']}, {figures['date']}): "
            f"{figures['events']:,} events, {figures['kills']} kills, "
            f"{figures['processor_starts']} processor starts "
            f"({len(figures['unplanned_exits'])} unplanned), "
            f"{figures['broker_restarts']} broker restart, {figures['rebalances']} rebalances, "
            f"{figures['snapshots_held_back']:,} snapshots held back, "
            f"{figures['corrections']:,} corrections, {figures['dead_letters']} dead letters, "
            f"duplicates {figures['duplicates']}, losses {figures['losses']}, "
            f"mismatches {figures['mismatches']}, {figures['seconds']} s; "
            f"{folder / 'faults-figures.json'}")
    print(line)
    keep(line)


def log_tails(files: list[Path], chars: int = 2500) -> list[str]:
    """The end of each log, librdkafka's own lines left out."""
    tails = []
    for log in files:
        kept = [line for line in log.read_text(errors="replace").splitlines()
                if not line.startswith("%")]
        tails.append(f"--- {log.name}\n" + "\n".join(kept)[-chars:])
    return tails
