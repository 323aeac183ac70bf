"""``load``: publish an input folder (contract.md "Files") to the input topics.

Records go out in the file replay's arrival order (``files.replay.merge_key``:
recorded_at, snapshots first, then id), keyed by ``member_id`` / ``agent_id``, with the
Kafka timestamp set to ``recorded_at`` (contract.md "Topics"), so each partition holds
its records in the order the replay would process them. Lines that do not decode are
dead letters of the file: counted, not published. The producer is idempotent
(``enable.idempotence=true``, ``acks=all``), so retries neither duplicate nor reorder;
any delivery error fails the load.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import read_records
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec, key_of
from processor.config import Settings
from processor.domain.model import AgentStatusSnapshot, Enrollment, PlanChange
from processor.files.replay import input_files, merge_key
from processor.kafka.clients import producer
from processor.kafka.registry import wire_codec
from processor.kafka.topics import topic_for

Progress = Callable[[int, int], None]
InputRecord = AgentStatusSnapshot | Enrollment | PlanChange

DEFAULT_TIMEOUT_S = 60.0
PROGRESS_EVERY = 2000
PRODUCER_CONFIG: dict[str, str | int | bool] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class LoadError(RuntimeError):
    """A record could not be delivered; nothing after it is trusted."""


class MissingTopicsError(ValueError):
    """An input topic does not exist (``topics create`` first)."""


@dataclass(frozen=True)
class LoadReport:
    published: dict[str, int]  # topic -> records published
    dead_letters: dict[str, int] = field(default_factory=dict)  # file -> lines skipped
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.published.values())

    @property
    def records_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0


def timestamp_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    return (moment - _EPOCH) // _MS


def read_folder(folder: Path) -> tuple[list[tuple[RecordKind, InputRecord]], Counter[str]]:
    """The folder's good inputs in merge order, and the dead letters counted per file."""
    failed_at = datetime.now(UTC)  # only for dead letters, which are not published
    records: list[tuple[RecordKind, InputRecord]] = []
    skipped: Counter[str] = Counter()
    for kind, path in input_files(folder).items():
        for item in read_records(path, kind, failed_at):
            if isinstance(item, DeadLetter):
                skipped[path.name] += 1
                continue
            record = item.record
            assert isinstance(record, AgentStatusSnapshot | Enrollment | PlanChange)
            records.append((kind, record))
    records.sort(key=lambda pair: merge_key(pair[1]))
    return records, skipped


def load_folder(settings: Settings, folder: Path, on_progress: Progress | None = None, *,
                codec: WireCodec | None = None,
                timeout: float = DEFAULT_TIMEOUT_S) -> LoadReport:
    """Publish every good input of ``folder``; ``on_progress(sent, total)`` now and then.

    ``codec`` defaults to the settings' wire format (registering schemas in confluent
    mode). Raises MissingTopicsError before sending anything when a topic is missing,
    and LoadError on the first delivery error or when ``timeout`` passes in a flush.
    """
    started = time.perf_counter()
    records, skipped = read_folder(folder)
    codec = codec if codec is not None else wire_codec(settings, auto_register=True)
    topics = {kind: topic_for(settings, kind) for kind in {k for k, _ in records}}
    errors: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            errors.append(f"{message.topic()} key {message.key()!r}: {error}")

    client = producer(settings, **PRODUCER_CONFIG)
    _check_topics(client, sorted(topics.values()), timeout)
    published: Counter[str] = Counter()
    total = len(records)
    for sent, (kind, record) in enumerate(records, start=1):
        value, headers = codec.encode(record)
        topic = topics[kind]
        _produce(client, topic, key_of(record), value, headers,
                 timestamp_ms(record.recorded_at), delivered)
        published[topic] += 1
        if errors:
            break
        if on_progress is not None and (sent % PROGRESS_EVERY == 0 or sent == total):
            on_progress(sent, total)
    remaining = client.flush(timeout)
    if errors:
        raise LoadError(f"{len(errors)} record(s) not delivered; first: {errors[0]}")
    if remaining:
        raise LoadError(f"{remaining} record(s) still undelivered after {timeout:.0f} s")
    return LoadReport(dict(sorted(published.items())), dict(sorted(skipped.items())),
                      time.perf_counter() - started)


def _produce(client: Producer, topic: str, key: bytes | None, value: bytes,
             headers: list[tuple[str, bytes]], timestamp: int,
             delivered: Callable[[KafkaError | None, Message], None]) -> None:
    out_headers: list[tuple[str, str | bytes | None]] | None = list(headers) or None
    while True:
        try:
            client.produce(topic, value=value, key=key, headers=out_headers,
                           timestamp=timestamp, on_delivery=delivered)
        except BufferError:  # the local queue is full: let deliveries drain it
            client.poll(0.1)
            continue
        client.poll(0)
        return


def _check_topics(client: Producer, names: list[str], timeout: float) -> None:
    metadata = client.list_topics(timeout=timeout)
    missing = [n for n in names
               if (t := metadata.topics.get(n)) is None or t.error is not None]
    if missing:
        raise MissingTopicsError(f"topic(s) {', '.join(missing)} do not exist: run "
                                 f"`aor-processor topics create` first")
