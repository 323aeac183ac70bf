"""A partition's progress, kept in its changelog under one reserved key.

Written in the same transaction as the partition's outputs and member states, so a
restore that reads the changelog to its end learns exactly what those outputs cover:

- ``applied``: per agent-status partition, the next offset whose snapshot this
  partition has applied;
- ``decided``: per input topic, the next offset of this partition whose records are all
  decided. The group's committed offsets say the same when all goes well; where they lag
  (a stale offset fetch, a backward reset by hand), an input would be decided again, and
  an event refused with a dead letter leaves no mark in member state to stop that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

META_KEY = b"\x00partition-meta"
VERSION = 2


@dataclass(frozen=True, slots=True)
class PartitionMeta:
    applied: dict[int, int] = field(default_factory=dict)
    decided: dict[str, int] = field(default_factory=dict)


def encode_meta(meta: PartitionMeta) -> bytes:
    return orjson.dumps({
        "v": VERSION,
        "applied": {str(p): offset for p, offset in sorted(meta.applied.items())},
        "decided": dict(sorted(meta.decided.items())),
    })


def decode_meta(data: bytes) -> PartitionMeta:
    """Also reads version 1, which had no ``decided``."""
    body = orjson.loads(data)  # raises orjson.JSONDecodeError, a json.JSONDecodeError
    return PartitionMeta(
        applied={int(p): int(offset) for p, offset in body["applied"].items()},
        decided={str(topic): int(offset) for topic, offset in body.get("decided", {}).items()})
