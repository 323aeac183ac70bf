"""The runtime's answers to broker faults, without a broker (found by tests/faults):

- a committed-offsets fetch that meets a coordinator moving or loading (a broker
  restart) is retried instead of ending the instance mid-restore;
- a fatal consumer error, which librdkafka delivers as an event of code _FATAL whose own
  fatal() is False, ends the run instead of being logged and ignored for ever.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from processor.codec.wire import WireCodec
from processor.config import WireFormat, load_settings
from processor.policy_io.build import build_policy
from processor.runtime.loop import KafkaProcessor
from processor.runtime.metrics import Health, Metrics


def processor() -> KafkaProcessor:
    settings = load_settings(metrics_port=0)
    return KafkaProcessor(settings, build_policy(settings), WireCodec(WireFormat.FINGERPRINT),
                          Metrics(), Health())


class Driver:
    """A group consumer whose committed() fails with these errors first."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.calls = 0

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return [TopicPartition(tp.topic, tp.partition, 42) for tp in partitions]


def test_committed_offsets_are_fetched_again_while_the_coordinator_moves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("processor.runtime.loop.time.sleep", lambda _: None)
    instance = processor()
    driver = Driver([KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS])
    fake: Any = driver
    instance.driver = fake
    found = instance._committed([TopicPartition("t", 3)])
    assert [(tp.partition, tp.offset) for tp in found] == [(3, 42)]
    assert driver.calls == 3


def test_other_committed_offsets_errors_end_the_run() -> None:
    instance = processor()
    fake: Any = Driver([KafkaError.GROUP_AUTHORIZATION_FAILED])
    instance.driver = fake
    with pytest.raises(KafkaException):
        instance._committed([TopicPartition("t", 0)])


class FatalEvent:
    """What consume() returns once the consumer has hit a fatal error."""

    def topic(self) -> str:
        return "enrollments"

    def partition(self) -> int:
        return 0

    def error(self) -> KafkaError:
        return KafkaError(KafkaError._FATAL, "Static consumer fenced by other consumer")


def test_a_fatal_consumer_event_ends_the_run() -> None:
    instance = processor()
    assert not FatalEvent().error().fatal()  # why the code is checked too
    event: Any = FatalEvent()
    with pytest.raises(KafkaException):
        instance._ingest([event])
