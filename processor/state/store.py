"""Members held decoded up to a bound, the rest encoded.

Two uses:

- the Kafka runtime restores a partition's members encoded and decodes each on first use:
  a restore then costs the changelog read and a light parse for the engine's watch index
  (`codec.watched_agents`), not a full decode of members that are mostly not
  touched again before the next rebalance. Members restored beyond the bound are
  compressed at once, as evicted ones are;
- with a bound (`hot_limit`), the least recently used members beyond it are encoded (and
  compressed) again, so that the members' share of memory stays bounded. A decoded
  member costs about 4 KiB, an encoded and compressed one about 620 bytes; each touch of
  a cold member costs a decompress and a decode, each eviction an encode and a compress
  (about 70 µs together; BENCHMARKS.md "Memory").
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping

from processor.domain.engine import Engine
from processor.domain.member import MemberState
from processor.domain.settings import PolicySettings

Decode = Callable[[bytes], MemberState]
Encode = Callable[[MemberState], bytes]
# Fast beats small here: level 1 already shrinks a format-2 state to about 40%.
_LEVEL = 1
# A zlib stream's first byte (deflate, 32 KiB window); a stored state starts with "[" or "{".
_ZLIB = 0x78


class MemberStore(MutableMapping[str, MemberState]):
    def __init__(self, decode: Decode, encode: Encode | None = None,
                 hot_limit: int | None = None) -> None:
        self._hot: OrderedDict[str, MemberState] = OrderedDict()
        self._encoded: dict[str, bytes] = {}  # as stored, or compressed when evicted
        self._decode = decode
        self._encode = encode
        self._limit: int | None = None
        if hot_limit is not None:
            self.resize(hot_limit)

    def put_encoded(self, member_id: str, data: bytes) -> None:
        """A member as stored elsewhere (the changelog), decoded on first use. Beyond the
        bound it is compressed as an evicted member is: a restore of more members than
        the bound holds them in about half the bytes."""
        self._hot.pop(member_id, None)
        if self._limit is not None and len(self) >= self._limit:
            data = zlib.compress(data, _LEVEL)
        self._encoded[member_id] = data

    @property
    def still_encoded(self) -> int:
        return len(self._encoded)

    @property
    def encoded_bytes(self) -> int:
        """Bytes of the members held encoded (compressed or as stored)."""
        return sum(map(len, self._encoded.values()))

    @property
    def hot_limit(self) -> int | None:
        return self._limit

    def resize(self, hot_limit: int) -> None:
        """A new bound of decoded members; those beyond it are encoded now."""
        if self._encode is None or hot_limit < 1:
            raise ValueError("a bounded member store needs an encoder and a limit >= 1")
        self._limit = hot_limit
        self._evict()

    def __getitem__(self, member_id: str) -> MemberState:
        state = self._hot.get(member_id)
        if state is not None:
            if self._limit is not None:
                self._hot.move_to_end(member_id)
            return state
        data = self._encoded.pop(member_id)  # KeyError: not a member here
        if data[0] == _ZLIB:
            data = zlib.decompress(data)
        state = self._decode(data)
        self._keep(member_id, state)
        return state

    def __setitem__(self, member_id: str, state: MemberState) -> None:
        self._encoded.pop(member_id, None)
        self._keep(member_id, state)

    def _keep(self, member_id: str, state: MemberState) -> None:
        self._hot[member_id] = state
        if self._limit is None:
            return
        self._hot.move_to_end(member_id)
        self._evict()

    def _evict(self) -> None:
        assert self._limit is not None and self._encode is not None
        while len(self._hot) > self._limit:
            cold_id, cold = self._hot.popitem(last=False)
            self._encoded[cold_id] = zlib.compress(self._encode(cold), _LEVEL)

    def __delitem__(self, member_id: str) -> None:
        found = self._hot.pop(member_id, None) is not None
        if self._encoded.pop(member_id, None) is None and not found:
            raise KeyError(member_id)

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._hot or member_id in self._encoded

    def __iter__(self) -> Iterator[str]:
        yield from list(self._hot)
        yield from list(self._encoded)

    def __len__(self) -> int:
        return len(self._hot) + len(self._encoded)


def bounded_engine(policy: PolicySettings, members_in_memory: int) -> Engine:
    """An engine holding at most `members_in_memory` members decoded (the replay's)."""
    from processor.state.codec import decode_state, encode_state

    return Engine(policy, members=MemberStore(decode_state, encode_state,
                                              hot_limit=members_in_memory))
