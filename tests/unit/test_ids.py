"""The UUIDv5 fast path mints exactly what uuid.uuid5 does."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from processor.domain import ids


@given(st.text())
def test_uuid5_equals_the_standard_library(name: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return  # uuid.uuid5 cannot take lone surrogates either
    assert ids.uuid5(name) == str(uuid.uuid5(ids.NAMESPACE, name))


def test_decision_and_adjustment_ids() -> None:
    assert ids.decision_id("evt-1", 0) == str(uuid.uuid5(ids.NAMESPACE, "decision/evt-1/0"))
    d = ids.decision_id("evt-1", 2)
    assert ids.adjustment_id(d, 1) == str(uuid.uuid5(ids.NAMESPACE, f"adjustment/{d}/1"))
