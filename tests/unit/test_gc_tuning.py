"""The replay's garbage-collection setting is scoped to the run."""

from __future__ import annotations

import gc

from processor.gc_tuning import OLDEST_GENERATION_THRESHOLD, long_lived_heap


def test_full_collections_are_rarer_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with long_lived_heap():
        inside = gc.get_threshold()
        assert inside[:2] == before[:2]
        assert inside[2] == max(before[2], OLDEST_GENERATION_THRESHOLD)
    assert gc.get_threshold() == before
