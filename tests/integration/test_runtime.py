"""`aor-processor run` against a real broker: the Kafka outputs equal the file replay."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.harness import (
    Deployment,
    assert_same_outputs,
    generate,
    lines,
    original_decisions,
    replay,
    terminate,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 600, seed=21, malformed=0.01)


@pytest.fixture(scope="module")
def replayed(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(history, tmp_path_factory.mktemp("replayed"))


def test_load_run_dump_equals_the_file_replay(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    app = Deployment(kafka_bootstrap)
    manifest = app.setup(history)
    done = app.cli("run", "--until-idle", "3", timeout=240)
    assert "decisions" in done.stderr
    dumped = app.dump(tmp_path / "dump")
    assert_same_outputs(dumped, replayed)
    good = manifest["counts"]["enrollments"] + manifest["counts"]["plan-changes"]
    assert sum(original_decisions(dumped).values()) == good
    # Lines that are JSON but break a business rule were published; they are dead
    # letters on Kafka as in the replay (malformed JSON never reached the topics).
    published = [d for d in lines(replayed / "dead-letters.jsonl")
                 if d["error_type"] != "INVALID_RECORD"]
    on_kafka = lines(dumped / "dead-letters.jsonl")
    assert sorted(d["error_type"] for d in on_kafka) == sorted(
        d["error_type"] for d in published)
    # A second run over the same group finds nothing new: offsets and state held.
    again = app.cli("run", "--until-idle", "2", timeout=240)
    assert "0 decisions" in again.stderr.replace(",", "")
    assert_same_outputs(app.dump(tmp_path / "dump2"), replayed)


def test_bounded_buffers_and_members_leave_the_outputs_equal_to_the_file_replay(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    # Batches of 5: each turn may bring 5 enrollments and 5 plan changes but decides at
    # most 5, so without back-pressure a partition's buffers grow to most of its input
    # (about 100 records each here). Paused at 4 batches, a buffer holds about 20.
    # 30 decoded members shared over 3 partitions: most of the 600 are kept encoded.
    app = Deployment(kafka_bootstrap)
    app.setup(history)
    done = app.cli("run", "--until-idle", "3", "--batch-size", "5",
                   "--members-in-memory", "30", timeout=400)
    found = re.search(r"largest input buffer ([\d,]+)", done.stderr)
    assert found is not None, done.stderr[-2000:]
    largest = int(found.group(1).replace(",", ""))
    assert 0 < largest <= 2 * 4 * 5, largest
    assert_same_outputs(app.dump(tmp_path / "dump"), replayed)


def test_sigkill_at_several_points_loses_and_doubles_nothing(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    app = Deployment(kafka_bootstrap)
    manifest = app.setup(history)
    log = tmp_path / "run.log"
    kills = 0
    for delay in (2.5, 3.5, 4.5):
        process = app.start("--batch-size", "20", log=log)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            kills += 1
    assert kills >= 2, "the processor finished before it could be killed; use more data"
    final = app.start("--batch-size", "20", "--until-idle", "3", log=log)
    assert final.wait(240) == 0, log.read_text()[-3000:]
    dumped = app.dump(tmp_path / "dump")
    originals = original_decisions(dumped)
    good = manifest["counts"]["enrollments"] + manifest["counts"]["plan-changes"]
    assert len(originals) == good, "an input event was lost"
    assert set(originals.values()) == {1}, "an original decision was doubled"
    assert_same_outputs(dumped, replayed)


def test_sigterm_drains_and_exits_zero(kafka_bootstrap: str, history: Path,
                                       tmp_path: Path) -> None:
    app = Deployment(kafka_bootstrap)
    app.setup(history)
    process = app.start(log=tmp_path / "run.log")
    time.sleep(4)
    assert terminate(process) == 0, (tmp_path / "run.log").read_text()[-3000:]


def test_missing_topics_is_a_clear_start_up_error(kafka_bootstrap: str) -> None:
    app = Deployment(kafka_bootstrap)
    done = subprocess.run(
        [sys.executable, "-m", "processor", "run", "--until-idle", "1"],
        check=False, capture_output=True, text=True, env=app.env, timeout=60)
    assert done.returncode == 2
    assert "topics create" in done.stderr
