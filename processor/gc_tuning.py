"""Cyclic garbage collection for long runs that keep a growing heap.

A replay or a Kafka run keeps every member's state: millions of small, long-lived objects
that hold no reference cycles (frozen dataclasses, tuples, dicts; old states are freed by
reference counting when replaced). CPython's default thresholds (700, 10, 10) start a full
collection, which walks the whole heap, whenever the objects that survived the young
generations reach a quarter of the old ones: on a 20,000-member replay that was 30% of the
decision time. Considering a full collection 100 times less often keeps the young
generations' collections (which find real cycles, such as exception tracebacks) as they
are and leaves the rare cycle in the old generation for a little longer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

OLDEST_GENERATION_THRESHOLD = 1000


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """Within the block, full collections are considered 100 times less often."""
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], max(before[2], OLDEST_GENERATION_THRESHOLD))
    try:
        yield
    finally:
        gc.set_threshold(*before)
