"""Back-pressure on the input consumers: a partition's input stops being fetched while
its worker already holds enough of it.

A turn decides at most a batch, but its consumers may bring a batch from each input, and
the merge of the two inputs can hold one of them back for a long time (a replay of a
history whose plan changes lag its enrollments). Without a bound, a catch-up run would
hold most of an input topic in memory. librdkafka's pause drops what it has prefetched
for the partition and, on resume, fetches again from the next offset the application
has not seen, so nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any, Protocol

from confluent_kafka import TopicPartition


class Buffered(Protocol):
    @property
    def buffers(self) -> Mapping[str, Sized]: ...


class InputFlow:
    def __init__(self, high_water: int, consumers: Mapping[str, Any]) -> None:
        """`consumers`: the consumer that reads each input topic."""
        if high_water < 2:
            raise ValueError("the high-water mark must be at least 2")
        self.high_water = high_water
        self._low_water = high_water // 2
        self._consumers = consumers
        self._paused: set[tuple[str, int]] = set()
        self.peak = 0  # the most inputs one (partition, topic) buffer held

    @property
    def paused(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._paused)

    def regulate(self, workers: Mapping[int, Buffered]) -> None:
        """Pause inputs at or above the high-water mark, resume those below the low one."""
        for p, worker in workers.items():
            for topic, buffer in worker.buffers.items():
                held = len(buffer)
                self.peak = max(self.peak, held)
                key = (topic, p)
                if key in self._paused:
                    if held <= self._low_water:
                        self._consumers[topic].resume([TopicPartition(topic, p)])
                        self._paused.discard(key)
                elif held >= self.high_water:
                    self._consumers[topic].pause([TopicPartition(topic, p)])
                    self._paused.add(key)

    def release(self, partition: int) -> None:
        """A partition gets a new worker (assigned, restored, or rebuilt by a rewind): its
        inputs flow again, whatever was paused under the old one."""
        for topic, consumer in self._consumers.items():
            consumer.resume([TopicPartition(topic, partition)])
            self._paused.discard((topic, partition))

    def forget(self, partition: int) -> None:
        """A partition no longer here: its pause went with its assignment."""
        for topic in self._consumers:
            self._paused.discard((topic, partition))
