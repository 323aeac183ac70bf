"""``dump``: read the output topics into ``assignments``, ``commission-adjustments`` and
``dead-letters`` files (contract.md "Files"), e.g. to compare with a file replay.

Each partition is read from its start to its end offset as of the start of the dump
(later records are left for the next dump), with ``isolation.level=read_committed``, so
records of aborted or still open transactions never appear. Partitions are assigned
directly under a random ``group.id`` with auto-commit off: the dump joins no group and
commits nothing. Records are written partition by partition, in offset order within a
partition, which preserves each member's order (outputs are keyed by member).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from processor.codec.errors import DecodeError
from processor.codec.files import output_path, write_records
from processor.codec.kinds import OUTPUT_KINDS, FileFormat, RecordKind
from processor.codec.wire import WireCodec
from processor.config import Settings
from processor.kafka.clients import consumer
from processor.kafka.load import MissingTopicsError
from processor.kafka.registry import wire_codec
from processor.kafka.topics import topic_for

DEFAULT_IDLE_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT_S = 30.0
MAX_ERRORS_KEPT = 5
_POLL_S = 0.2
# Not flagged retriable by librdkafka for ListOffsets, but transient: a new partition
# whose leader the broker has not taken up yet.
_LEADER_MOVING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION,
                            KafkaError.LEADER_NOT_AVAILABLE,
                            KafkaError.UNKNOWN_TOPIC_OR_PART})


@dataclass(frozen=True)
class DumpReport:
    written: dict[str, int]  # file name -> records written
    undecodable: dict[str, int] = field(default_factory=dict)  # topic -> records skipped
    errors: tuple[str, ...] = ()  # the first few decoding errors
    incomplete: tuple[str, ...] = ()  # "topic[partition]" not read to its end offset
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.undecodable and not self.incomplete


@dataclass
class _Partition:
    kind: RecordKind
    end: int  # read up to, not including, this offset
    records: list[object] = field(default_factory=list)
    done: bool = False


def dump_topics(settings: Settings, folder: Path, fmt: FileFormat | str,
                idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S, *,
                codec: WireCodec | None = None,
                timeout: float = DEFAULT_TIMEOUT_S, avro_codec: str = "null") -> DumpReport:
    """Write the three output files into ``folder`` (created if missing).

    Stops reading a partition at its end offset; gives up on the rest when no record
    arrives for ``idle_timeout_s`` (the partitions not finished are reported in
    ``incomplete``, and what was read is still written). Records that do not decode are
    skipped and counted in ``undecodable``.
    """
    started = time.perf_counter()
    file_format = FileFormat(fmt)
    codec = codec if codec is not None else wire_codec(settings)
    topics = {topic_for(settings, kind): kind for kind in OUTPUT_KINDS}
    config: dict[str, str | int | float | bool] = {
        "group.id": f"{settings.application_id}-dump-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }
    client = consumer(settings, **config)
    undecodable: dict[str, int] = {}
    errors: list[str] = []
    try:
        partitions = _assign(client, topics, timeout)
        _read(client, partitions, codec, idle_timeout_s, undecodable, errors)
    finally:
        client.close()
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for topic, kind in topics.items():
        records = [r for (t, _), part in sorted(partitions.items()) if t == topic
                   for r in part.records]
        path = output_path(folder, kind, file_format)
        written[path.name] = write_records(path, kind, records, file_format, avro_codec)
    incomplete = tuple(f"{t}[{p}]" for (t, p), part in sorted(partitions.items())
                       if not part.done)
    return DumpReport(written, undecodable, tuple(errors), incomplete,
                      time.perf_counter() - started)


def _assign(client: Consumer, topics: Mapping[str, RecordKind],
            timeout: float) -> dict[tuple[str, int], _Partition]:
    metadata = client.list_topics(timeout=timeout)
    missing = [t for t in topics if (m := metadata.topics.get(t)) is None or m.error]
    if missing:
        raise MissingTopicsError(f"topic(s) {', '.join(missing)} do not exist")
    partitions: dict[tuple[str, int], _Partition] = {}
    assignment = []
    deadline = time.monotonic() + timeout
    for topic, kind in topics.items():
        for number in sorted(metadata.topics[topic].partitions):
            tp = TopicPartition(topic, number)
            # Under read_committed the end offset is the last stable offset.
            low, high = _watermarks(client, tp, deadline)
            part = partitions[(topic, number)] = _Partition(kind, high, done=high <= low)
            if not part.done:
                assignment.append(TopicPartition(topic, number, low))
    if assignment:
        client.assign(assignment)
    return partitions


def _watermarks(client: Consumer, tp: TopicPartition, deadline: float) -> tuple[int, int]:
    """(low, high) offsets, retrying retriable errors (a partition whose leader is
    still being elected, e.g. right after the topic was created) until the deadline."""
    while True:
        try:
            low, high = client.get_watermark_offsets(
                tp, timeout=max(deadline - time.monotonic(), 1.0), cached=False)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not (isinstance(error, KafkaError)
                    and (error.retriable() or error.code() in _LEADER_MOVING)
                    and time.monotonic() < deadline):
                raise
            time.sleep(_POLL_S)


def _read(client: Consumer, partitions: dict[tuple[str, int], _Partition], codec: WireCodec,
          idle_timeout_s: float, undecodable: dict[str, int], errors: list[str]) -> None:
    open_count = sum(not p.done for p in partitions.values())
    last_progress = time.monotonic()
    while open_count:
        message = client.poll(_POLL_S)
        error = message.error() if message is not None else None
        if message is None or (error is not None
                               and error.code() != KafkaError._PARTITION_EOF):
            if error is not None and error.fatal():
                raise KafkaException(error)
            # Nothing, or a transient error (e.g. a reconnect) that librdkafka retries.
            if time.monotonic() - last_progress > idle_timeout_s:
                return
            continue
        last_progress = time.monotonic()
        topic, number, offset = message.topic(), message.partition(), message.offset()
        if topic is None or number is None:
            continue
        part = partitions.get((topic, number))
        if part is None or part.done:
            continue
        if error is not None:  # end of partition: done once past the dump's end offset
            if offset is not None and offset >= part.end:
                part.done = True
                open_count -= 1
            continue
        if offset is None or offset >= part.end:  # written after the dump started
            part.done = True
            open_count -= 1
            continue
        try:
            part.records.append(codec.decode(part.kind, message.value(), message.headers()))
        except DecodeError as exc:
            undecodable[topic] = undecodable.get(topic, 0) + 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(f"{topic}[{number}]@{offset}: {exc.error_type}: {exc.message}")
        if offset == part.end - 1:
            part.done = True
            open_count -= 1
