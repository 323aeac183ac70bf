"""Where a key belongs (Java's murmur2, librdkafka's old CRC-32), the producers' partitioner,
and the input check both `run` and the range replay apply."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from pydantic import ValidationError

from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec
from processor.config import InputPartitioner, WireFormat, load_settings
from processor.domain.model import PlanChange
from processor.kafka import clients
from processor.kafka.inputs import Refused, decode_event
from processor.kafka.partitioner import misplaced, murmur2, partition_of
from tests.contract.contract_samples import sample

# Kafka's own test vectors for Utils.murmur2 (clients/.../utils/UtilsTest.java).
JAVA_MURMUR2 = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize(("key", "hashed"), JAVA_MURMUR2,
                         ids=[k.decode()[:12] for k, _ in JAVA_MURMUR2])
def test_murmur2_is_javas(key: bytes, hashed: int) -> None:
    assert murmur2(key) == hashed


def test_partition_of_each_rule() -> None:
    key = b"mbr-0000166"
    assert partition_of(key, 6, InputPartitioner.MURMUR2) == (murmur2(key) & 0x7FFFFFFF) % 6
    assert partition_of(key, 6, InputPartitioner.CRC32) == zlib.crc32(key) % 6
    assert partition_of(key, 6, InputPartitioner.OFF) is None
    # The two rules disagree for most keys: which is why the check exists.
    keys = [f"mbr-{i:07d}".encode() for i in range(200)]
    assert sum(partition_of(k, 6, InputPartitioner.MURMUR2)
               != partition_of(k, 6, InputPartitioner.CRC32) for k in keys) > 100


def test_misplaced_names_where_the_key_belongs() -> None:
    key = b"mbr-1"
    home = partition_of(key, 3, InputPartitioner.MURMUR2)
    assert home is not None
    assert misplaced(key, home, 3, InputPartitioner.MURMUR2) is None
    why = misplaced(key, (home + 1) % 3, 3, InputPartitioner.MURMUR2)
    assert why is not None and f"belongs on partition {home} of 3 by murmur2" in why
    assert misplaced(key, (home + 1) % 3, 3, InputPartitioner.OFF) is None
    assert misplaced(None, 0, 3, InputPartitioner.MURMUR2) is None


def test_a_partitioner_in_kafka_extra_is_refused() -> None:
    with pytest.raises(ValidationError, match="may not set 'partitioner'"):
        load_settings(kafka_extra={"partitioner": "consistent_random"})
    assert load_settings().input_partitioner is InputPartitioner.MURMUR2
    assert load_settings(input_partitioner="crc32").input_partitioner is InputPartitioner.CRC32


def test_every_producer_partitions_as_java_does(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(clients, "Producer", made.append)
    clients.producer(load_settings(), **{"partitioner": "consistent_random"})
    assert made[0]["partitioner"] == "murmur2_random"


WIRE = WireCodec(WireFormat.FINGERPRINT)


def _change() -> tuple[PlanChange, bytes, Any]:
    change = sample(RecordKind.PLAN_CHANGE, PlanChange)
    value, headers = WIRE.encode(change)
    return change, value, list(headers)


def test_decode_event_admits_a_record_on_its_keys_partition() -> None:
    change, value, headers = _change()
    key = change.member_id.encode()
    home = partition_of(key, 6, InputPartitioner.MURMUR2)
    assert home is not None
    assert decode_event(RecordKind.PLAN_CHANGE, key, value, headers, home, 6, WIRE,
                        InputPartitioner.MURMUR2) == change


def test_decode_event_refuses_in_order_partition_payload_key() -> None:
    change, value, headers = _change()
    key = change.member_id.encode()
    home = partition_of(key, 6, InputPartitioner.MURMUR2)
    assert home is not None
    away = decode_event(RecordKind.PLAN_CHANGE, key, b"not avro", headers, (home + 1) % 6, 6,
                        WIRE, InputPartitioner.MURMUR2)
    assert isinstance(away, Refused) and away.error_type == "MISPARTITIONED"
    broken = decode_event(RecordKind.PLAN_CHANGE, key, b"not avro", headers, home, 6, WIRE,
                          InputPartitioner.MURMUR2)
    assert isinstance(broken, Refused) and broken.error_type in ("INVALID_RECORD",
                                                                 "UNKNOWN_SCHEMA")
    other = b"someone-else"
    wrong_key = decode_event(RecordKind.PLAN_CHANGE, other, value, headers, 0, 6, WIRE,
                             InputPartitioner.OFF)
    assert wrong_key == Refused("INVALID_RECORD",
                                "record key does not match the payload's member_id")
