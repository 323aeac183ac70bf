"""Which partition a key belongs on: Java's default partitioner, and librdkafka's old one.

Java clients, Kafka Connect and Debezium put a keyed record on
``toPositive(murmur2(key)) % partitions``; librdkafka does the same with
``partitioner=murmur2_random``, which every producer of this project sets. Earlier
versions of ``load`` used librdkafka's default, ``consistent_random``: CRC-32 of the key.
Members are co-partitioned by these rules, so a record on another partition than its
key's would be decided without the member's other events.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

from processor.config import InputPartitioner

# librdkafka's name of Java's rule, set on every producer (and refused in AOR_KAFKA_EXTRA).
PRODUCER_PARTITIONER = "murmur2_random"

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (seed 0x9747b28c), as a signed 32-bit int like Java's."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    rest = length % 4
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


@lru_cache(maxsize=1 << 16)  # a member's records repeat its key: hashed once while hot
def partition_of(key: bytes, partitions: int, rule: InputPartitioner) -> int | None:
    """The partition `rule` puts `key` on; None when the rule is off."""
    if rule is InputPartitioner.MURMUR2:
        return (murmur2(key) & 0x7FFFFFFF) % partitions
    if rule is InputPartitioner.CRC32:
        return zlib.crc32(key) % partitions
    return None


def misplaced(key: bytes | None, partition: int, partitions: int,
              rule: InputPartitioner) -> str | None:
    """Why a keyed input record does not belong on `partition`, or None when it does (or
    is not checked: the rule is off, or the record has no key)."""
    if key is None or rule is InputPartitioner.OFF:
        return None
    expected = partition_of(key, partitions, rule)
    if expected is None or expected == partition:
        return None
    return (f"key {key!r} belongs on partition {expected} of {partitions} by "
            f"{rule.value} (AOR_INPUT_PARTITIONER), not on partition {partition}: its "
            "member's other events are elsewhere, so it is not decided")


__all__ = ["PRODUCER_PARTITIONER", "InputPartitioner", "misplaced", "murmur2", "partition_of"]
