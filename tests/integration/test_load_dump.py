"""``load`` and ``dump`` against the session broker."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from processor.codec.dead_letter import DeadLetter
from processor.codec.files import Decoded, output_path, read_records
from processor.codec.kinds import FileFormat, RecordKind
from processor.codec.wire import FINGERPRINT_HEADER, WireCodec, header_value, key_of
from processor.config import Settings, WireFormat
from processor.domain.model import (
    AgentStatusSnapshot,
    AorAssignment,
    CommissionAdjustment,
    Enrollment,
    PlanChange,
)
from processor.files.replay import input_files, merge_key
from processor.generate.history import GeneratorConfig, generate
from processor.generate.write import write_history
from processor.kafka.dump import dump_topics
from processor.kafka.load import MissingTopicsError, load_folder, timestamp_ms
from processor.kafka.registry import RegistryAdapter
from processor.kafka.topics import create_topics, topic_for
from tests.contract.contract_samples import T0, sample
from tests.integration.edge_settings import unique_settings

pytestmark = pytest.mark.kafka

TIMEOUT = 30.0
PARTITIONS = 3


def read_topic(bootstrap: str, topic: str) -> dict[int, list[Message]]:
    """Every record of a topic, per partition in offset order (up to the end offsets)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-check",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=TIMEOUT)
        ends = {}
        for p in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                       timeout=TIMEOUT)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        out: dict[int, list[Message]] = defaultdict(list)
        deadline = time.monotonic() + TIMEOUT
        while ends and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            out[partition].append(message)
            if offset >= ends[partition] - 1:
                del ends[partition]
        assert not ends, f"{topic}: partitions {sorted(ends)} not read to the end"
        return dict(out)
    finally:
        consumer.close()


def good_inputs(folder: Path) -> dict[RecordKind, list[Any]]:
    """What a replay of the folder would process, per kind (dead letters left out)."""
    out: dict[RecordKind, list[Any]] = {}
    for kind, path in input_files(folder).items():
        out[kind] = [item.record for item in read_records(path, kind, T0)
                     if isinstance(item, Decoded)]
    return out


def test_load_publishes_in_merge_order_with_keys_and_timestamps(
        kafka_bootstrap: str, unique_topic: Callable[[str], str], tmp_path: Path) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic)
    history = generate(GeneratorConfig(members=40, agents=10, seed=3, malformed_rate=0.05))
    manifest = write_history(history, tmp_path)
    with pytest.raises(MissingTopicsError, match="topics create"):
        load_folder(settings, tmp_path)
    create_topics(settings, partitions=PARTITIONS)

    progress: list[tuple[int, int]] = []
    report = load_folder(settings, tmp_path, lambda done, total: progress.append((done, total)))

    expected = good_inputs(tmp_path)
    assert report.published == {topic_for(settings, k): len(v) for k, v in expected.items()}
    assert progress[-1] == (report.total, report.total)
    malformed = manifest["malformed"]
    assert isinstance(malformed, dict)
    # Lines that do not decode are skipped; the other defects are the processor's job.
    assert sum(report.dead_letters.values()) == sum(
        per_file.get("INVALID_RECORD", 0) for per_file in malformed.values())
    codec = WireCodec(WireFormat.FINGERPRINT)
    for kind, records in expected.items():
        partitions = read_topic(kafka_bootstrap, topic_for(settings, kind))
        seen = []
        for messages in partitions.values():
            decoded = []
            for message in messages:
                record = codec.decode(kind, message.value(), message.headers())
                assert isinstance(record, AgentStatusSnapshot | Enrollment | PlanChange)
                assert message.key() == key_of(record)
                assert message.timestamp() == (TIMESTAMP_CREATE_TIME,
                                               timestamp_ms(record.recorded_at))
                assert header_value(message.headers(), FINGERPRINT_HEADER) is not None
                decoded.append(record)
            keys = [merge_key(r) for r in decoded]
            assert keys == sorted(keys)  # each partition holds its records in merge order
            seen.extend(decoded)
        assert Counter(seen) == Counter(records)
        # A key always lands on one partition (co-partitioning relies on it).
        owners: dict[bytes | None, set[int]] = defaultdict(set)
        for number, messages in partitions.items():
            for message in messages:
                owners[message.key()].add(number)
        assert all(len(p) == 1 for p in owners.values())


def _outputs(count: int, label: str) -> list[object]:
    """Assignments, adjustments and dead letters for `count` members."""
    records: list[object] = []
    for i in range(count):
        member = f"M-{label}-{i}"
        variant = "full" if i % 2 else "minimal"
        assignment = sample(RecordKind.ASSIGNMENT, AorAssignment, variant)
        adjustment = sample(RecordKind.ADJUSTMENT, CommissionAdjustment, variant)
        letter = sample(RecordKind.DEAD_LETTER, DeadLetter, variant)
        records.append(dataclasses.replace(assignment, decision_id=f"d-{label}-{i}",
                                           member_id=member))
        records.append(dataclasses.replace(adjustment, adjustment_id=f"a-{label}-{i}",
                                           member_id=member))
        records.append(dataclasses.replace(
            letter, key=None if i % 3 == 0 else member.encode(), offset=i,
            error_message=f"{label} {i}"))
    return records


def _produce_transactions(settings: Settings, codec: WireCodec
                          ) -> dict[RecordKind, list[object]]:
    """A committed, an aborted and another committed transaction; the committed
    records each file should hold, in partition-then-offset order."""
    errors: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            errors.append(error)

    committed: dict[tuple[RecordKind, int], list[object]] = defaultdict(list)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers,
                         "transactional.id": f"{settings.application_id}-tx",
                         "enable.idempotence": True, "linger.ms": 5})
    producer.init_transactions(TIMEOUT)
    for label, commit in (("one", True), ("aborted", False), ("two", True)):
        producer.begin_transaction()
        for n, record in enumerate(_outputs(7, label)):
            kind = RecordKind.of(record)
            partition = (n // 3) % PARTITIONS
            value, headers = codec.encode(record)
            producer.produce(topic_for(settings, kind), value=value, key=key_of(record),
                             headers=list(headers) or None, partition=partition,
                             on_delivery=delivered)
            if commit:
                committed[(kind, partition)].append(record)
        if commit:
            producer.commit_transaction(TIMEOUT)
        else:
            assert producer.flush(TIMEOUT) == 0  # in the log before the abort
            producer.abort_transaction(TIMEOUT)
    assert not errors, errors
    return {kind: [r for p in range(PARTITIONS) for r in committed[(kind, p)]]
            for kind in (RecordKind.ASSIGNMENT, RecordKind.ADJUSTMENT,
                         RecordKind.DEAD_LETTER)}


@pytest.mark.parametrize("wire", [WireFormat.FINGERPRINT, WireFormat.CONFLUENT])
def test_dump_reads_committed_records_in_partition_order(
        kafka_bootstrap: str, unique_topic: Callable[[str], str], tmp_path: Path,
        wire: WireFormat) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic, wire_format=wire.value,
                               schema_registry_url="mock://dump")
    create_topics(settings, partitions=PARTITIONS)
    registry = (RegistryAdapter.from_settings(settings, auto_register=True)
                if wire is WireFormat.CONFLUENT else None)
    codec = WireCodec(wire, registry)
    expected = _produce_transactions(settings, codec)

    for fmt in FileFormat:
        folder = tmp_path / fmt.value
        report = dump_topics(settings, folder, fmt, idle_timeout_s=10.0, codec=codec)
        assert report.ok, report
        for kind, records in expected.items():
            path = output_path(folder, kind, fmt)
            assert report.written[path.name] == len(records) == 7 * 2
            items = list(read_records(path, kind, T0))
            assert all(isinstance(i, Decoded) for i in items)
            assert [i.record for i in items if isinstance(i, Decoded)] == records

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    groups = admin.list_consumer_groups(request_timeout=TIMEOUT).result()
    assert not [g for g in groups.valid if g.group_id.startswith(settings.application_id)]


def test_dump_of_empty_topics_writes_empty_files(
        kafka_bootstrap: str, unique_topic: Callable[[str], str], tmp_path: Path) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic)
    create_topics(settings, partitions=2)
    report = dump_topics(settings, tmp_path, "jsonl", idle_timeout_s=5.0)
    assert report.ok and set(report.written.values()) == {0}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "assignments.jsonl", "commission-adjustments.jsonl", "dead-letters.jsonl"]
