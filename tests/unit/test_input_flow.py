"""InputFlow's pause/resume decisions (the Kafka side is in tests/integration/test_runtime.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from processor.runtime.flow import InputFlow


@dataclass
class Calls:
    log: list[tuple[str, str, int]] = field(default_factory=list)

    def pause(self, parts: list[TopicPartition]) -> None:
        self.log += [("pause", tp.topic, tp.partition) for tp in parts]

    def resume(self, parts: list[TopicPartition]) -> None:
        self.log += [("resume", tp.topic, tp.partition) for tp in parts]


@dataclass
class Worker:
    buffers: Mapping[str, Any]


def test_pauses_at_the_high_water_mark_and_resumes_at_half() -> None:
    driver, follower = Calls(), Calls()
    flow = InputFlow(8, {"enr": driver, "pc": follower})
    flow.regulate({0: Worker({"enr": [1] * 7, "pc": []})})
    assert driver.log == [] and flow.paused == frozenset()
    flow.regulate({0: Worker({"enr": [1] * 8, "pc": []})})
    assert driver.log == [("pause", "enr", 0)] and flow.paused == {("enr", 0)}
    flow.regulate({0: Worker({"enr": [1] * 5, "pc": []})})  # above half: still paused
    assert driver.log == [("pause", "enr", 0)]
    flow.regulate({0: Worker({"enr": [1] * 4, "pc": []})})
    assert driver.log == [("pause", "enr", 0), ("resume", "enr", 0)]
    assert follower.log == [] and flow.paused == frozenset()
    assert flow.peak == 8


def test_release_resumes_both_inputs_of_a_rebuilt_partition() -> None:
    driver, follower = Calls(), Calls()
    flow = InputFlow(4, {"enr": driver, "pc": follower})
    flow.regulate({3: Worker({"enr": [1] * 4, "pc": [1] * 9})})
    assert flow.paused == {("enr", 3), ("pc", 3)}
    flow.release(3)
    assert flow.paused == frozenset()
    assert driver.log[-1] == ("resume", "enr", 3) and follower.log[-1] == ("resume", "pc", 3)


def test_forget_drops_a_revoked_partition_without_calling_the_consumers() -> None:
    driver, follower = Calls(), Calls()
    flow = InputFlow(2, {"enr": driver, "pc": follower})
    flow.regulate({1: Worker({"enr": [1, 2], "pc": []})})
    flow.forget(1)
    assert flow.paused == frozenset() and driver.log == [("pause", "enr", 1)]


def test_refuses_a_mark_that_could_never_resume() -> None:
    with pytest.raises(ValueError):
        InputFlow(1, {})
