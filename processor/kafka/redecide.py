"""Re-decide what a deployment already published, under the rules it now runs (an upgrade).

The changelog holds, per member, what the live outputs stand by: every event's latest
revision and the adjustments it keeps. Each member is re-decided from `--from` on by the
engine (`processor.domain.member.redecide`) with the whole agent-status table; an event
decided differently gets a superseding decision (the next revision, REVERSALs of what it
no longer stands by, the new adjustments) under the current policy_version. Nothing
publishes a second revision 0.

Targets: files or prefixed topics to check the result side by side, or the live output
topics together with the re-decided member states (the changelog), member by member in
transactions. A re-run after a crash re-reads the changelog: members already re-decided
now stand where the new rules put them and emit nothing again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec
from processor.config import Settings
from processor.domain.agents import ALL_IDS, Horizon
from processor.domain.engine import Engine
from processor.domain.member import redecide
from processor.domain.model import AgentStatusSnapshot, Decision
from processor.domain.settings import PolicySettings
from processor.files.outputs import OutputSinkCloser
from processor.files.replay import merge_key
from processor.files.summary import RunSummary
from processor.kafka import clients
from processor.kafka.history import read_topics
from processor.kafka.rewind import refuse_if_active
from processor.kafka.sinks import send_output
from processor.runtime.partition_meta import META_KEY, PartitionMeta, decode_meta, encode_meta
from processor.state.codec import decode_state, encode_state

Progress = Callable[[int, int], None]
# Members per transaction on the live topics: outputs and states commit together.
MEMBERS_PER_TRANSACTION = 500


class RedecideTarget(Protocol):
    def member(self, partition: int, member_id: str, state: bytes | None,
               decisions: tuple[Decision, ...]) -> None: ...

    def close(self, metas: dict[int, PartitionMeta]) -> None:
        """Finish; `metas`: each changelog partition's progress after the re-decision."""

    def abort(self) -> None:
        """Leave nothing half written that a re-run would not redo."""


class SinkTarget:
    """Files or prefixed topics: the superseding decisions only, for a side-by-side check."""

    def __init__(self, sink: OutputSinkCloser) -> None:
        self.sink = sink

    def member(self, partition: int, member_id: str, state: bytes | None,
               decisions: tuple[Decision, ...]) -> None:
        if decisions:
            self.sink.decisions(decisions)

    def close(self, metas: dict[int, PartitionMeta]) -> None:
        self.sink.close()

    def abort(self) -> None:
        self.sink.close()


class LiveTarget:
    """The live output topics and the changelog, in transactions of whole members."""

    def __init__(self, settings: Settings, wire: WireCodec) -> None:
        self.settings = settings
        self.wire = wire
        config: dict[str, Any] = {"transactional.id": f"{settings.application_id}-redecide",
                                  "enable.idempotence": True}
        self.producer = clients.producer(settings, **config)
        self.producer.init_transactions(60)
        self.open = 0

    def member(self, partition: int, member_id: str, state: bytes | None,
               decisions: tuple[Decision, ...]) -> None:
        if state is None:
            return
        if not self.open:
            self.producer.begin_transaction()
        for decision in decisions:
            send_output(self.producer, self.wire, self.settings.assignments_topic,
                        decision.assignment)
            for adjustment in decision.adjustments:
                send_output(self.producer, self.wire, self.settings.adjustments_topic,
                            adjustment)
        self.producer.produce(self.settings.changelog_topic, key=member_id.encode(),
                              value=state, partition=partition)
        self.producer.poll(0)
        self.open += 1
        if self.open >= MEMBERS_PER_TRANSACTION:
            self._commit()

    def _commit(self) -> None:
        self.producer.commit_transaction(60)
        self.open = 0

    def close(self, metas: dict[int, PartitionMeta]) -> None:
        """The last transaction also records that every snapshot read is applied: the
        states were re-decided with all of them, and `run` must not apply them again at
        their older horizons (which would take decisions back and forth)."""
        if not self.open:
            self.producer.begin_transaction()
        for partition, meta in sorted(metas.items()):
            self.producer.produce(self.settings.changelog_topic, key=META_KEY,
                                  value=encode_meta(meta), partition=partition)
        self._commit()

    def abort(self) -> None:
        # The open transaction is aborted; committed members stand, and a re-run finds
        # them already re-decided.
        if self.open:
            self.producer.abort_transaction(60)
            self.open = 0


@dataclass(slots=True)
class RedecideReport:
    since: datetime
    known: datetime | None = None
    snapshots: int = 0
    members: int = 0
    members_changed: int = 0  # states written or to be written (live target)
    members_superseded: int = 0
    summary: RunSummary = field(default_factory=RunSummary)
    net_by_agent: dict[str, Decimal] = field(default_factory=dict)

    @property
    def net_change(self) -> Decimal:
        return sum(self.net_by_agent.values(), Decimal("0.00"))


def _load_agents(settings: Settings, engine: Engine, wire: WireCodec,
                 ends: dict[int, int]) -> datetime | None:
    """The whole agent-status topic into the engine's table, in arrival order; the latest
    recorded_at, how far the table is known."""
    snapshots: list[AgentStatusSnapshot] = []
    topic = settings.agent_status_topic
    read: dict[tuple[str, int], int] = {}
    for msg in read_topics(settings, [topic], None, "redecide-agents", read):
        try:
            record = wire.decode(RecordKind.AGENT_STATUS, msg.value(), msg.headers())
        except DecodeError:
            continue  # a poison snapshot: dead-lettered when `run` read it
        assert isinstance(record, AgentStatusSnapshot)
        snapshots.append(record)
    ends.update({p: end for (_, p), end in read.items()})
    for snapshot in sorted(snapshots, key=merge_key):
        engine.add_snapshot(snapshot)  # a conflicting copy was dead-lettered by `run`
    return max((s.recorded_at for s in snapshots), default=None)


def _changelog(settings: Settings, metas: dict[int, PartitionMeta]
               ) -> dict[int, dict[str, bytes]]:
    """The changelog's member states as they stand (the latest record of each key), and
    each partition's meta into `metas`."""
    states: dict[int, dict[str, bytes]] = {}
    for msg in read_topics(settings, [settings.changelog_topic], None, "redecide-changelog"):
        key = msg.key()
        if key == META_KEY and msg.value() is not None:
            metas[msg.partition()] = decode_meta(msg.value())
            continue
        if key is None or key == META_KEY:
            continue
        member_id = key.decode()
        part = states.setdefault(msg.partition(), {})
        value = msg.value()
        if value is None:
            part.pop(member_id, None)
        else:
            part[member_id] = value
    return states


def redecide_topics(settings: Settings, policy: PolicySettings, wire: WireCodec,
                    since: datetime, target: RedecideTarget,
                    on_progress: Progress | None = None) -> RedecideReport:
    refuse_if_active(settings)
    report = RedecideReport(since)
    engine = Engine(policy)
    agent_ends: dict[int, int] = {}
    report.known = _load_agents(settings, engine, wire, agent_ends)
    report.snapshots = len(engine.agents)
    known: Horizon = (report.known or since, ALL_IDS)
    metas: dict[int, PartitionMeta] = {}
    states = _changelog(settings, metas)
    total = sum(len(members) for members in states.values())
    done = 0
    try:
        for partition in sorted(states):
            for member_id, data in sorted(states[partition].items()):
                try:
                    state = decode_state(data)
                except ValueError as error:
                    raise ValueError(f"member {member_id} in {settings.changelog_topic}"
                                     f"[{partition}] is not a member state: {error}") from None
                step = redecide(state, engine.agents, policy, since, known)
                decisions, after = step.decisions, step.state
                changed = after is not state
                target.member(partition, member_id, encode_state(after) if changed else None,
                              decisions)
                _count(report, decisions, changed)
                done += 1
                if on_progress is not None:
                    on_progress(done, total)
    except BaseException:
        target.abort()
        raise
    target.close({p: PartitionMeta(
        applied={a: max(end, metas[p].applied.get(a, 0) if p in metas else 0)
                 for a, end in agent_ends.items()},
        decided=metas[p].decided if p in metas else {})
        for p in sorted(set(states) | set(metas))})
    return report


def _count(report: RedecideReport, decisions: tuple[Decision, ...], changed: bool) -> None:
    report.members += 1
    report.members_changed += changed
    report.members_superseded += bool(decisions)
    report.summary.count_decisions(decisions)
    for decision in decisions:
        for adj in decision.adjustments:
            if adj.amount is not None:
                report.net_by_agent[adj.agent_id] = (
                    report.net_by_agent.get(adj.agent_id, Decimal("0.00")) + adj.amount)


__all__ = ["LiveTarget", "RedecideReport", "SinkTarget", "redecide_topics"]
