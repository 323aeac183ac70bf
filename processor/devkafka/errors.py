"""The one exception type of processor.devkafka."""

from __future__ import annotations


class DevKafkaError(RuntimeError):
    """The broker could not be fetched, started, reached or stopped; the message says why."""
