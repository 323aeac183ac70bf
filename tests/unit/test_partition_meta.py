"""The changelog's partition meta: round trip, and version 1 (no input positions)."""

from __future__ import annotations

from processor.runtime.partition_meta import PartitionMeta, decode_meta, encode_meta


def test_meta_round_trips_applied_and_decided_offsets() -> None:
    meta = PartitionMeta(applied={0: 17, 3: 4},
                         decided={"aor.enrollments": 120, "aor.plan-changes": 98})
    assert decode_meta(encode_meta(meta)) == meta


def test_version_1_meta_has_no_input_positions() -> None:
    written_by_v1 = b'{"v":1,"applied":{"0":17,"3":4}}'
    assert decode_meta(written_by_v1) == PartitionMeta(applied={0: 17, 3: 4}, decided={})
