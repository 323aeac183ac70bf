"""Members restored encoded and decoded on first use: the same engine answers."""

from __future__ import annotations

import pytest

from processor.domain.engine import Engine
from processor.domain.settings import PolicySettings
from processor.state.codec import (
    decode_state,
    encode_state,
    encode_state_v1,
    watched_agents,
)
from processor.state.store import MemberStore
from tests.unit.test_state_codec import generated_states


def test_watched_agents_are_those_the_decoded_state_looked_at() -> None:
    states = generated_states()
    assert any(s.agents_looked_at for s in states)
    for state in states:
        assert watched_agents(encode_state(state)) == state.agents_looked_at
    for state in states[:50]:  # format 1, as older changelogs hold it
        assert watched_agents(encode_state_v1(state)) == state.agents_looked_at


def test_a_member_is_decoded_once_on_first_use() -> None:
    state = next(s for s in generated_states() if s.history)
    decoded: list[bytes] = []

    def decode(data: bytes) -> object:
        decoded.append(data)
        return decode_state(data)

    store = MemberStore(decode)  # type: ignore[arg-type]
    store.put_encoded(state.member_id, encode_state(state))
    assert len(store) == 1 and state.member_id in store and list(store) == [state.member_id]
    assert decoded == []
    assert store.get(state.member_id) == state
    assert store[state.member_id] == state
    assert len(decoded) == 1 and store.still_encoded == 0
    assert store.get("mbr-unknown") is None and "mbr-unknown" not in store
    with pytest.raises(KeyError):
        del store["mbr-unknown"]
    del store[state.member_id]
    assert len(store) == 0


def test_a_lazily_restored_engine_holds_the_same_members_and_watch_index() -> None:
    """Snapshots reach members through the watch index, decoded or not; `run` restores
    this way (rebalance and fault suites)."""
    states = generated_states()
    eager = Engine(PolicySettings())
    lazy = Engine(PolicySettings(), members=MemberStore(decode_state))
    for state in states:
        eager.restore(state)
        assert isinstance(lazy.members, MemberStore)
        lazy.members.put_encoded(state.member_id, encode_state(state))
        lazy.watch(state.member_id, watched_agents(encode_state(state)))
    assert lazy.watchers == eager.watchers
    assert sorted(lazy.members) == sorted(eager.members)
    assert {m: lazy.members[m] for m in lazy.members} == dict(eager.members)


def test_a_bounded_store_keeps_the_most_recent_members_decoded() -> None:
    states = [s for s in generated_states() if s.history][:50]
    store = MemberStore(decode_state, encode_state, hot_limit=10)
    for state in states:
        store[state.member_id] = state
    assert len(store) == 50 and store.still_encoded == 40
    assert {m: store[m] for m in store} == {s.member_id: s for s in states}
    # Reading them all back touched each in turn: the last ten read are the hot ones.
    assert store.still_encoded == 40
    first = states[0].member_id
    assert store[first] == states[0]  # cold again by now: decoded, and hot
    assert store.still_encoded == 40
    del store[first]
    assert first not in store and len(store) == 49


def test_a_bounded_store_needs_an_encoder() -> None:
    with pytest.raises(ValueError):
        MemberStore(decode_state, hot_limit=10)


def test_resizing_encodes_the_least_recent_members_beyond_the_new_bound() -> None:
    states = [s for s in generated_states() if s.history][:30]
    store = MemberStore(decode_state, encode_state, hot_limit=30)
    for state in states:
        store[state.member_id] = state
    assert store.still_encoded == 0
    store.resize(12)
    assert store.hot_limit == 12 and store.still_encoded == 18 and len(store) == 30
    # The 18 encoded are the oldest: the last 12 written are still decoded.
    newest = states[-1].member_id
    assert store[newest] is states[-1]
    assert {m: store[m] for m in store} == {s.member_id: s for s in states}
    store.resize(40)  # a larger bound encodes nothing more and decodes nothing early
    assert store.still_encoded == 18
    with pytest.raises(ValueError):
        store.resize(0)


def test_members_put_beyond_the_bound_are_kept_compressed() -> None:
    states = [s for s in generated_states() if s.history][:20]
    blobs = {s.member_id: encode_state(s) for s in states}
    bounded = MemberStore(decode_state, encode_state, hot_limit=5)
    unbounded = MemberStore(decode_state)
    for member_id, blob in blobs.items():
        bounded.put_encoded(member_id, blob)
        unbounded.put_encoded(member_id, blob)
    sizes = [len(b) for b in blobs.values()]
    assert unbounded.encoded_bytes == sum(sizes)
    # The first five as given, the fifteen beyond the bound compressed (to under half).
    assert sum(sizes[:5]) < bounded.encoded_bytes < sum(sizes[:5]) + sum(sizes[5:]) / 2
    assert {m: bounded[m] for m in blobs} == {s.member_id: s for s in states}
