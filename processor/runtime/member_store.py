"""A partition's members, those restored from the changelog kept encoded until first used.

A restore then costs the changelog read and a light parse for the engine's watch index
(`state_codec.watched_agents`), not a full decode of every member: most restored members
are not touched again before the next rebalance, and restore time is the time a moved
partition stands still.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping

from processor.domain.member import MemberState

Decode = Callable[[bytes], MemberState]


class MemberStore(MutableMapping[str, MemberState]):
    def __init__(self, decode: Decode) -> None:
        self._decoded: dict[str, MemberState] = {}
        self._encoded: dict[str, bytes] = {}
        self._decode = decode

    def put_encoded(self, member_id: str, data: bytes) -> None:
        self._decoded.pop(member_id, None)
        self._encoded[member_id] = data

    @property
    def still_encoded(self) -> int:
        return len(self._encoded)

    def __getitem__(self, member_id: str) -> MemberState:
        state = self._decoded.get(member_id)
        if state is None:
            data = self._encoded.pop(member_id)  # KeyError: not a member here
            state = self._decoded[member_id] = self._decode(data)
        return state

    def __setitem__(self, member_id: str, state: MemberState) -> None:
        self._encoded.pop(member_id, None)
        self._decoded[member_id] = state

    def __delitem__(self, member_id: str) -> None:
        found = self._decoded.pop(member_id, None) is not None
        if self._encoded.pop(member_id, None) is None and not found:
            raise KeyError(member_id)

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._decoded or member_id in self._encoded

    def __iter__(self) -> Iterator[str]:
        yield from list(self._decoded)
        yield from list(self._encoded)

    def __len__(self) -> int:
        return len(self._decoded) + len(self._encoded)
