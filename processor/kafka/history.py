"""Read the input topics' history for a range replay, without a consumer group.

Bounded at start: every partition is read up to its end offset as seen when the read
began (and, with `until`, up to the first record at or after that instant, found with
offsets-for-times on the record timestamps, which are `recorded_at`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from processor.codec.dead_letter import DeadLetter
from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec
from processor.config import InputPartitioner, Settings
from processor.domain.model import AgentStatusSnapshot, Enrollment, PlanChange
from processor.files.replay import Input, merge_key
from processor.kafka import clients
from processor.kafka.inputs import Refused, decode_event

Clock = Callable[[], datetime]


@dataclass(slots=True)
class History:
    inputs: list[Input] = field(default_factory=list)
    # Undecodable records with their record timestamps, for the window to filter.
    letters: list[tuple[datetime, DeadLetter]] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def bounds(consumer: Any, topic: str, until: datetime | None, timeout: float = 30.0,
           limit: int | None = None) -> dict[int, int]:
    """End offset per partition: the high watermark now, or the first offset at `until`;
    with `limit`, no more than that many records past the partition's start."""
    meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        raise ValueError(f"topic {topic!r} does not exist")
    ends: dict[int, int] = {}
    for p in sorted(meta.partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
        ends[p] = high if limit is None else min(high, low + limit)
    if until is not None:
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, _ms(until)) for p in ends], timeout=timeout)
        for tp in found:
            if tp.offset >= 0:  # -1: no record at or after `until`: read to the end
                ends[tp.partition] = min(ends[tp.partition], tp.offset)
    return ends


def read_topics(settings: Settings, topics: Sequence[str], until: datetime | None,
                purpose: str, ends: dict[tuple[str, int], int] | None = None,
                on_progress: Callable[[int, int], None] | None = None, *,
                limit: int | None = None, timeout: float = 30.0) -> Iterator[Any]:
    """Every committed record of `topics`, all partitions, from the start up to the end
    offsets as the read began (and, with `until`, before the first record at or after it;
    with `limit`, at most that many per partition).

    A throwaway group id that never commits: the live group's offsets never move. `ends`
    receives the end offsets per (topic, partition)."""
    config: dict[str, Any] = {
        "group.id": f"{settings.application_id}.{purpose}.{uuid.uuid4().hex[:8]}",
        "isolation.level": "read_committed", "enable.partition.eof": True,
        "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    consumer = clients.consumer(settings, **config)
    try:
        ends = {} if ends is None else ends
        ends.update({(t, p): end for t in topics
                     for p, end in bounds(consumer, t, until, timeout, limit).items()})
        pending = {tp for tp, end in ends.items() if end > 0}
        total = sum(ends.values())
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in pending])
        done = 0
        while pending:
            for msg in consumer.consume(5000, 0.5):
                tp = (msg.topic(), msg.partition())
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(tp)
                        continue
                    raise RuntimeError(f"reading {tp[0]}[{tp[1]}]: {error}")
                offset: int = msg.offset() or 0
                if tp not in pending:
                    continue
                if offset >= ends[tp]:
                    pending.discard(tp)
                    continue
                done += 1
                yield msg
                if offset + 1 >= ends[tp]:
                    pending.discard(tp)
            if on_progress is not None:
                on_progress(done, total)
    finally:
        consumer.close()


def read_history(settings: Settings, wire: WireCodec, clock: Clock, until: datetime | None,
                 on_progress: Callable[[int, int], None] | None = None) -> History:
    topics = {settings.enrollments_topic: RecordKind.ENROLLMENT,
              settings.plan_changes_topic: RecordKind.PLAN_CHANGE,
              settings.agent_status_topic: RecordKind.AGENT_STATUS}
    history = History()
    ends: dict[tuple[str, int], int] = {}
    partitions: Counter[str] = Counter()  # per topic, known once the read has begun
    for msg in read_topics(settings, list(topics), until, "range-replay", ends, on_progress):
        topic = msg.topic()
        if not partitions:
            partitions.update(t for t, _ in ends)
        _add(history, msg, topics[topic], wire, clock, partitions[topic],
             settings.input_partitioner)
    history.inputs.sort(key=lambda i: i.key)
    return history


def _add(history: History, msg: Any, kind: RecordKind, wire: WireCodec, clock: Clock,
         partitions: int, rule: InputPartitioner) -> None:
    topic = msg.topic()
    history.read[topic] = history.read.get(topic, 0) + 1
    record: AgentStatusSnapshot | Enrollment | PlanChange | Refused
    if kind is RecordKind.AGENT_STATUS:
        try:
            snapshot = wire.decode(kind, msg.value(), msg.headers())
            assert isinstance(snapshot, AgentStatusSnapshot)
            record = snapshot
        except DecodeError as failure:
            record = Refused(failure.error_type.value, failure.message)
    else:
        # The rule `run` applies (processor/kafka/inputs.py), so both refuse alike.
        record = decode_event(kind, msg.key(), msg.value(), msg.headers(), msg.partition(),
                              partitions, wire, rule)
    if isinstance(record, Refused):
        _, timestamp_ms = msg.timestamp()
        when = datetime.fromtimestamp(timestamp_ms / 1000, tz=clock().tzinfo)
        history.letters.append((when, DeadLetter(
            source=topic, partition=msg.partition(), offset=msg.offset(), key=msg.key(),
            value=msg.value(), error_type=record.error_type, error_message=record.message,
            failed_at=clock())))
        return
    history.inputs.append(Input(merge_key(record), record, topic, msg.offset(), msg.value(),
                                partition=msg.partition(), raw_key=msg.key()))
