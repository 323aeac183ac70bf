"""The dead-letter record: an input that could not be processed, with its raw bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source: str  # topic or file name
    partition: int | None
    offset: int | None  # Kafka offset, JSON Lines line number, or Avro block/record number
    key: bytes | None
    value: bytes | None  # the original bytes, untouched
    error_type: str
    error_message: str
    failed_at: datetime  # the only wall-clock value; callers pass it, the codec never reads a clock
