"""Group offsets behind the changelog: nothing is decided or dead-lettered twice.

The changelog's partition meta records, in the same transaction as the outputs, the next
offset of each input whose records are all decided. A restore takes the input positions
from there; group offsets that lag it (a stale offset fetch after a coordinator move, an
operator's backward reset) cannot make the processor decide an input twice. Decisions
were already deduplicated by member state, but an event refused with a dead letter
leaves no trace in member state, so before the meta recorded positions its dead letter
was written again (seen once in the CI fault suite).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.integration.harness import (
    Deployment,
    assert_same_outputs,
    committed_offsets,
    end_offsets,
    generate,
    lines,
    original_decisions,
    replay,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 300, seed=61, malformed=0.03)


def rewind_group_to_zero(app: Deployment) -> None:
    admin = AdminClient({"bootstrap.servers": app.bootstrap})
    offsets = [TopicPartition(app.topic(stem), p, 0)
               for stem in ("enrollments", "plan-changes") for p in range(app.partitions)]
    # The static member of the run that just exited stays in the group until its
    # session times out; the broker refuses to move the offsets of a live group.
    deadline = time.monotonic() + 60
    while True:
        futures = admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(app.name, offsets)])
        try:
            result = futures[app.name].result(30)
            errors = [tp.error for tp in result.topic_partitions or [] if tp.error]
        except KafkaException as failure:
            errors = [failure]
        if not errors:
            break
        assert time.monotonic() < deadline, f"could not move the group's offsets: {errors}"
        time.sleep(1)
    assert set(committed_offsets(app.bootstrap, app.name).values()) == {0}


def test_group_offsets_behind_the_changelog_double_nothing(
        kafka_bootstrap: str, history: Path, tmp_path: Path) -> None:
    replayed = replay(history, tmp_path / "replayed")
    app = Deployment(kafka_bootstrap)
    app.setup(history)
    app.cli("run", "--until-idle", "2", timeout=240)
    first = lines(app.dump(tmp_path / "first") / "dead-letters.jsonl")
    refused = [d for d in first if d["error_type"] != "INVALID_RECORD"]
    assert refused, "the history needs events refused by a business rule"

    rewind_group_to_zero(app)
    app.cli("run", "--until-idle", "2", timeout=240)

    dumped = app.dump(tmp_path / "again")
    letters = Counter((d["source"], d["partition"], d["offset"])
                      for d in lines(dumped / "dead-letters.jsonl"))
    assert [at for at, n in letters.items() if n > 1] == []
    assert len(letters) == len(first)
    assert set(original_decisions(dumped).values()) == {1}
    assert_same_outputs(dumped, replayed)
    # The offsets the run skipped over were committed: the group is at the inputs' ends.
    inputs = [app.topic("enrollments"), app.topic("plan-changes")]
    assert committed_offsets(app.bootstrap, app.name) == end_offsets(app.bootstrap, inputs)
