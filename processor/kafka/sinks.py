"""Range-replay outputs to topics with a prefix (never the live output topics), and the
one way every writer of outputs produces a record."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.cimpl import NewTopic

from processor.codec.dead_letter import DeadLetter
from processor.codec.wire import WireCodec, key_of
from processor.config import Settings
from processor.domain.model import Decision
from processor.kafka import clients


def send_output(producer: Any, wire: WireCodec, topic: str, obj: object,
                on_delivery: Any = None) -> None:
    """Produce one output record as every writer of outputs does: encoded in the wire
    format (with its headers), keyed by its member (or a dead letter's original key)."""
    value, headers = wire.encode(obj)
    wire_headers: Any = headers
    if on_delivery is None:
        producer.produce(topic, value=value, key=key_of(obj), headers=wire_headers)
    else:
        producer.produce(topic, value=value, key=key_of(obj), headers=wire_headers,
                         on_delivery=on_delivery)


class TopicSink:
    def __init__(self, settings: Settings, prefix: str, wire: WireCodec) -> None:
        if not prefix:
            raise ValueError("--output-prefix must not be empty: the live output topics "
                             "are never written by a replay")
        self.wire = wire
        self.assignments = prefix + settings.assignments_topic
        self.adjustments = prefix + settings.adjustments_topic
        self.dead_letters = prefix + settings.dead_letters_topic
        self._ensure(settings)
        config: dict[str, Any] = {"enable.idempotence": True, "acks": "all", "linger.ms": 20}
        self.producer = clients.producer(settings, **config)
        self.errors: list[str] = []
        self.count = 0

    def _ensure(self, settings: Settings) -> None:
        admin = clients.admin(settings)
        existing = admin.list_topics(timeout=30).topics
        new = [NewTopic(t, settings.partitions, settings.replication_factor)
               for t in (self.assignments, self.adjustments, self.dead_letters)
               if t not in existing]
        for topic, future in admin.create_topics(new).items() if new else ():
            try:
                future.result(30)
            except KafkaException as error:
                raise ValueError(f"could not create {topic}: {error}") from None

    def _send(self, topic: str, obj: object) -> None:
        send_output(self.producer, self.wire, topic, obj, self._delivered)
        self.count += 1
        self.producer.poll(0)

    def _delivered(self, error: Any, msg: Any) -> None:
        if error is not None:
            self.errors.append(str(error))

    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        for decision in decisions:
            self._send(self.assignments, decision.assignment)
            for adjustment in decision.adjustments:
                self._send(self.adjustments, adjustment)

    def dead_letter(self, letter: DeadLetter) -> None:
        self._send(self.dead_letters, letter)

    def close(self) -> None:
        remaining = self.producer.flush(60)
        if remaining or self.errors:
            raise RuntimeError(f"{remaining} records undelivered; errors: {self.errors[:3]}")
