"""A transaction that fails mid-way leaves nothing behind (architecture.md "Exactly-once
loop"): the KafkaProcessor runs in-process with a producer that fails once, after the
failing transaction has produced outputs; the loop aborts, rewinds to the last committed
offsets and state, and retries. Asserted on the broker itself: what read_committed
readers see while the failure is handled, the outputs, and the group's offsets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from processor.kafka.registry import wire_codec
from processor.policy_io.build import build_policy
from processor.runtime.loop import KafkaProcessor
from processor.runtime.metrics import Health, Metrics
from tests.integration.harness import (
    Deployment,
    assert_same_outputs,
    committed_offsets,
    count_records,
    end_offsets,
    generate,
    open_transactions,
    original_decisions,
    replay,
    wait_for,
)

pytestmark = pytest.mark.kafka

OUTPUT_STEMS = ("assignments", "commission-adjustments", "dead-letters",
                "member-state.changelog")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 300, seed=31)


@pytest.fixture(scope="module")
def replayed(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(history, tmp_path_factory.mktemp("replayed"))


@dataclass
class Observed:
    """What the failing producer saw on the broker around its one failure."""

    produced_in_failed: int = 0
    committed_before: dict[str, int] = field(default_factory=dict)
    uncommitted_during: dict[str, int] = field(default_factory=dict)
    committed_after: dict[str, int] = field(default_factory=dict)


class FailingProducer:
    """Delegates to the real transactional producer, but fails one transaction: either
    ``commit_transaction`` (after every record of the batch was produced) or the
    ``produce`` call after ``fail_after`` records (mid-batch). It fails the first
    transaction with outputs that comes after ``committed_first`` such transactions."""

    def __init__(self, inner: Any, app: Deployment, where: str, committed_first: int = 2,
                 fail_after: int = 15) -> None:
        self.inner = inner
        self.app = app
        self.where = where
        self.committed_first = committed_first
        self.fail_after = fail_after
        self.in_transaction = 0
        self.committed_with_outputs = 0
        self.failed = False
        self.aborts = 0
        self.seen = Observed()
        self.after_abort: Callable[[], None] | None = None  # once, after the injected one

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def topics(self) -> list[str]:
        return [self.app.topic(stem) for stem in OUTPUT_STEMS]

    def _armed(self) -> bool:
        return not self.failed and self.committed_with_outputs >= self.committed_first

    def _fail(self) -> None:
        """Record what the broker shows with the doomed transaction still open, then
        fail the way librdkafka does."""
        self.failed = True
        self.seen.produced_in_failed = self.in_transaction
        assert self.inner.flush(30) == 0  # the doomed records are in the log now
        self.seen.committed_before = count_records(self.app.bootstrap, self.topics)
        self.seen.uncommitted_during = count_records(self.app.bootstrap, self.topics,
                                                     "read_uncommitted")
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "injected by the test"))

    def begin_transaction(self) -> None:
        self.in_transaction = 0
        self.inner.begin_transaction()

    def produce(self, *args: Any, **kwargs: Any) -> None:
        if self.where == "produce" and self._armed() and self.in_transaction >= self.fail_after:
            self._fail()
        self.inner.produce(*args, **kwargs)
        self.in_transaction += 1

    def commit_transaction(self, *args: Any) -> None:
        if self.where == "commit" and self._armed() and self.in_transaction:
            self._fail()
        self.inner.commit_transaction(*args)
        if self.in_transaction:
            self.committed_with_outputs += 1

    def abort_transaction(self, *args: Any) -> None:
        self.inner.abort_transaction(*args)
        self.aborts += 1
        if self.failed and not self.seen.committed_after:
            # The abort markers are written once the last stable offset of every
            # partition reaches its end; then read what read_committed readers see.
            wait_for(lambda: not open_transactions(self.app.bootstrap, self.topics), 30,
                     "the aborted transaction's markers were never written")
            self.seen.committed_after = count_records(self.app.bootstrap, self.topics)
            if self.after_abort is not None:
                self.after_abort()


class FailingOnce(KafkaProcessor):
    """The processor, with its transactional producer wrapped once its clients exist."""

    where = "commit"
    app: Deployment
    wrapper: FailingProducer
    after_abort: Callable[[], None] | None = None

    def _clients(self) -> None:
        super()._clients()
        self.wrapper = FailingProducer(self.producer, self.app, self.where)
        self.wrapper.after_abort = self.after_abort
        wrapped: Any = self.wrapper
        self.producer = wrapped


@pytest.mark.parametrize("where", ["commit", "produce"])
def test_an_aborted_transaction_leaves_nothing_and_the_retry_doubles_nothing(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path,
        where: str) -> None:
    app = Deployment(kafka_bootstrap)
    manifest = app.setup(history)
    settings = app.settings(instance_id="in-process", batch_size=40)
    processor = FailingOnce(settings, build_policy(settings), wire_codec(settings),
                            Metrics(), Health())
    processor.app, processor.where = app, where
    stats = processor.run(until_idle_s=2.0)

    seen = processor.wrapper.seen
    assert processor.wrapper.failed, "the failure was never injected: too little data?"
    assert stats.aborted >= 1 and processor.wrapper.aborts >= 1
    assert seen.produced_in_failed > 0
    assigned = app.topic("assignments")
    assert seen.committed_before[assigned] > 0, "no committed transaction before the failure"
    # The doomed records did reach the log...
    assert (sum(seen.uncommitted_during.values())
            == sum(seen.committed_before.values()) + seen.produced_in_failed)
    # ...and read_committed readers saw none of them, during or after the abort.
    assert seen.committed_after == seen.committed_before

    dumped = app.dump(tmp_path / "dump")
    originals = original_decisions(dumped)
    good = manifest["counts"]["enrollments"] + manifest["counts"]["plan-changes"]
    assert len(originals) == good, "an input event was lost"
    assert set(originals.values()) == {1}, "an original decision was doubled by the retry"
    assert_same_outputs(dumped, replayed)
    assert stats.decisions == good  # the aborted batch's decisions are not counted twice

    inputs = [app.topic("enrollments"), app.topic("plan-changes")]
    ends = end_offsets(kafka_bootstrap, inputs)
    committed = committed_offsets(kafka_bootstrap, app.name)
    assert all(end > 0 for end in ends.values()), ends
    assert committed == ends, "the group's committed offsets are not the inputs' ends"


class Intruder(threading.Thread):
    """A second member of the application's group that takes partitions and leaves
    again without processing or committing anything: it makes the processor revoke
    partitions, then hands them back."""

    def __init__(self, app: Deployment) -> None:
        super().__init__(name="intruder", daemon=True)
        self.app = app
        self.joined = threading.Event()  # first assignment (empty: the others revoke first)
        self.took: list[int] = []
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            client = Consumer({"bootstrap.servers": self.app.bootstrap,
                               "group.id": self.app.name, "enable.auto.commit": False,
                               "partition.assignment.strategy": "cooperative-sticky",
                               "session.timeout.ms": 6000})

            def assigned(consumer: Any, partitions: list[TopicPartition]) -> None:
                self.joined.set()
                self.took += [tp.partition for tp in partitions]

            client.subscribe([self.app.topic("enrollments")], on_assign=assigned)
            deadline = time.monotonic() + 60
            while not self.took and time.monotonic() < deadline:
                client.poll(0.1)
            client.close()  # not static: leaves the group at once
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.joined.set()
            self.done.set()


def test_a_rebalance_right_after_an_abort_revokes_partitions_awaiting_restore(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    """ILLEGAL_GENERATION during a rebalance is the usual reason to abort: the rewind
    unassigns every partition from the follower, and the revocation that comes next
    must not unassign them again (librdkafka raises "Can't subtract from empty
    assignment" and the instance died)."""
    app = Deployment(kafka_bootstrap)
    manifest = app.setup(history)
    intruder = Intruder(app)

    def rebalance_now() -> None:
        # Block the loop, as a slow abort would, until the group has rebalanced: the
        # revocation waits in the driver's queue for the loop's next consume.
        intruder.start()
        assert intruder.joined.wait(30), "the intruder never joined the group"
        time.sleep(0.5)

    settings = app.settings(instance_id="in-process", batch_size=40)
    processor = FailingOnce(settings, build_policy(settings), wire_codec(settings),
                            Metrics(), Health())
    processor.app, processor.after_abort = app, rebalance_now
    # Idle longer than the intruder holds its partitions and gives them back.
    stats = processor.run(until_idle_s=8.0)
    assert intruder.done.wait(60) and intruder.error is None, intruder.error
    assert processor.wrapper.failed and stats.aborted >= 1
    assert intruder.took, "the intruder never got a partition: no revocation happened"

    dumped = app.dump(tmp_path / "dump")
    originals = original_decisions(dumped)
    good = manifest["counts"]["enrollments"] + manifest["counts"]["plan-changes"]
    assert len(originals) == good and set(originals.values()) == {1}
    assert_same_outputs(dumped, replayed)
    inputs = [app.topic("enrollments"), app.topic("plan-changes")]
    assert committed_offsets(kafka_bootstrap, app.name) == end_offsets(kafka_bootstrap, inputs)
