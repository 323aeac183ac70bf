"""An enrollment or plan-change record as read from its topic: the decoded event, or why it
is refused. One rule for `run` and the range replay, so both dead-letter the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec
from processor.config import InputPartitioner
from processor.domain.model import Enrollment, ErrorType, PlanChange
from processor.kafka.partitioner import misplaced


@dataclass(frozen=True, slots=True)
class Refused:
    error_type: str
    message: str


def decode_event(kind: RecordKind, key: bytes | None, value: bytes | None, headers: Any,
                 partition: int, partitions: int, wire: WireCodec,
                 rule: InputPartitioner) -> Enrollment | PlanChange | Refused:
    """A record on its key's partition, decoding to an event whose member_id is the key; or
    MISPARTITIONED, the decoder's error, or INVALID_RECORD (the key is another member's)."""
    elsewhere = misplaced(key, partition, partitions, rule)
    if elsewhere is not None:
        return Refused(ErrorType.MISPARTITIONED.value, elsewhere)
    try:
        event = wire.decode(kind, value, headers)
    except DecodeError as failure:
        return Refused(failure.error_type.value, failure.message)
    assert isinstance(event, Enrollment | PlanChange)
    if key != event.member_id.encode():
        return Refused(ErrorType.INVALID_RECORD.value,
                       "record key does not match the payload's member_id")
    return event


__all__ = ["Refused", "decode_event"]
