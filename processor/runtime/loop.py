"""The exactly-once consumer loop (architecture.md): poll, decide, one transaction.

Co-partitioning: librdkafka's cooperative-sticky assignor balances topic-partitions
without keeping partition p of two topics together, so the group subscribes to the
enrollments topic only and a second, assign-only consumer follows with plan-changes
partition p from the group's committed offset. Both offsets are committed in the
same transaction with the group's metadata, so they move together.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from processor.codec.dead_letter import DeadLetter
from processor.codec.kinds import RecordKind
from processor.codec.wire import WireCodec, fit_dead_letter
from processor.config import Settings
from processor.domain.agents import AgentTable
from processor.domain.engine import Engine
from processor.domain.model import Enrollment, PlanChange
from processor.domain.settings import PolicySettings
from processor.kafka import clients
from processor.kafka.inputs import Refused, decode_event
from processor.kafka.security import AUTHENTICATION, SecurityWatch, verify_access
from processor.kafka.sinks import send_output
from processor.runtime.agent_feed import AgentFeed
from processor.runtime.flow import InputFlow
from processor.runtime.metrics import Health, Metrics
from processor.runtime.partition import Inbound, PartitionWorker, Produced
from processor.runtime.partition_meta import META_KEY, encode_meta
from processor.runtime.restore import restore_partition
from processor.runtime.watchdog import Watchdog
from processor.state.codec import decode_state, encode_state, watched_agents
from processor.state.store import MemberStore

log = structlog.get_logger("aor.runtime")

DEFAULT_MESSAGE_MAX_BYTES = 1_000_000  # librdkafka's message.max.bytes
# Errors of a committed-offsets fetch that pass: the coordinator moves or loads (a broker
# restart), or a transaction still holds offsets of the partition (require_stable).
_COORDINATOR_BUSY = frozenset({
    KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.UNSTABLE_OFFSET_COMMIT,
    KafkaError._WAIT_COORD, KafkaError._TIMED_OUT, KafkaError._TRANSPORT})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class RunStats:
    inputs: int = 0
    decisions: int = 0
    corrections: int = 0
    dead_letters: int = 0
    transactions: int = 0
    aborted: int = 0
    rebalances: int = 0
    early: int = 0
    restored_members: int = 0
    largest_buffer: int = 0  # most inputs one partition held for one input topic
    outcomes: dict[str, int] = field(default_factory=dict)


class KafkaProcessor:
    def __init__(self, settings: Settings, policy: PolicySettings, wire: WireCodec,
                 metrics: Metrics, health: Health, clock: Callable[[], datetime] = utc_now
                 ) -> None:
        self.settings = settings
        self.policy = policy
        self.wire = wire
        self.metrics = metrics
        self.health = health
        self.clock = clock
        self.instance_id = settings.instance_id or socket.gethostname()
        self.table = AgentTable()
        self.workers: dict[int, PartitionWorker] = {}
        self.stats = RunStats()
        self.stopping = False
        self.ever_assigned = False
        self.enrollments = settings.enrollments_topic
        self.plan_changes = settings.plan_changes_topic
        self._pending_assign: list[int] = []
        self.input_partitions = settings.partitions  # the topics' own count, at start-up
        self._last_activity = time.monotonic()
        self._lag_measured = 0.0
        # Whether the last turn decided anything: while it does, do not wait for input.
        self._progressed = False
        self.security = SecurityWatch(frozenset({AUTHENTICATION}))
        # librdkafka refuses larger records (default 1,000,000 bytes); dead letters are
        # fitted below it (fit_dead_letter).
        self.max_record_bytes = int(clients.client_config(settings).get(
            "message.max.bytes", DEFAULT_MESSAGE_MAX_BYTES))
        # Transactional calls that block past their timeout end the process (watchdog.py).
        self.watchdog = Watchdog()

    # -- clients ---------------------------------------------------------------

    def _clients(self) -> None:
        s = self.settings
        common: dict[str, Any] = {"isolation.level": "read_committed",
                                  "enable.partition.eof": True,
                                  "auto.offset.reset": "earliest"}
        group: dict[str, Any] = {**common,
                                 "partition.assignment.strategy": "cooperative-sticky",
                                 "session.timeout.ms": s.session_timeout_ms}
        if s.static_membership:
            group["group.instance.id"] = self.instance_id
        # A refused login (the password changed under a running instance) ends the run
        # with a clear error instead of retrying for ever (checked every loop turn).
        watch = self.security
        self.driver = clients.consumer(s, watch, **group)
        self.follower = clients.consumer(s, watch, **common)
        # A partition's input buffer holds at most a few batches before it is paused.
        self.flow = InputFlow(4 * s.batch_size, {self.enrollments: self.driver,
                                                 self.plan_changes: self.follower})
        self.table_consumer = clients.consumer(
            s, watch,
            **{**common, "group.id": f"{s.application_id}.agent-table.{self.instance_id}"})
        # Restores read to the end as fast as the broker serves: no fetch wait.
        self.restorer = clients.consumer(
            s, watch, **{**common, "group.id": f"{s.application_id}.restore.{self.instance_id}",
                         "fetch.wait.max.ms": 10})
        transactional: dict[str, Any] = {
            "transactional.id": f"{s.application_id}-{self.instance_id}",
            "enable.idempotence": True, "linger.ms": 5, "transaction.timeout.ms": 60000}
        self.producer = clients.producer(s, watch, **transactional)

    def _check_topics(self) -> None:
        admin = clients.admin(self.settings)
        meta = admin.list_topics(timeout=30)
        s = self.settings
        needed = [s.enrollments_topic, s.plan_changes_topic, s.agent_status_topic,
                  s.assignments_topic, s.adjustments_topic, s.dead_letters_topic,
                  s.changelog_topic]
        missing = [t for t in needed if t not in meta.topics]
        if missing:
            raise ValueError(f"missing topic(s) {', '.join(missing)}; run "
                             "`aor-processor topics create` first")
        counts = {t: len(meta.topics[t].partitions)
                  for t in (s.enrollments_topic, s.plan_changes_topic, s.changelog_topic)}
        if len(set(counts.values())) != 1:
            raise ValueError(f"inputs and changelog are not co-partitioned: {counts}")
        self.input_partitions = counts[s.enrollments_topic]

    # -- rebalancing -----------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        self.ever_assigned = True
        # Restoring inside the callback would stall librdkafka's rebalance; note the
        # partitions and restore them before the next batch is processed.
        self._pending_assign.extend(tp.partition for tp in partitions)
        log.info("partitions.assigned", partitions=sorted(tp.partition for tp in partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        # No transaction is ever open across a poll, so there is nothing to finish.
        gone = [tp.partition for tp in partitions]
        for p in gone:
            self.workers.pop(p, None)
            self.flow.forget(p)
            if p in self._pending_assign:
                self._pending_assign.remove(p)
        self._share_members_bound()
        # Only what the follower holds: a partition still waiting for its restore (e.g.
        # after `_rewind`, which unassigns them all) is not assigned there, and
        # librdkafka refuses to unassign it ("Can't subtract from empty assignment").
        following = {tp.partition for tp in self.follower.assignment()}
        unfollow = [TopicPartition(self.plan_changes, p) for p in gone if p in following]
        if unfollow:
            self.follower.incremental_unassign(unfollow)
        self.metrics.assigned_partitions.set(len(self.workers))
        log.info("partitions.revoked", partitions=sorted(gone))

    def _restore_pending(self) -> None:
        if not self._pending_assign:
            return
        while self._pending_assign:
            p = self._pending_assign.pop(0)
            started = time.monotonic()
            members, meta = restore_partition(self.restorer, self.settings.changelog_topic, p,
                                              on_batch=self.health.beat)
            # The bound is shared out over the partitions held (_share_members_bound);
            # members restored beyond this partition's share are kept compressed.
            held = len(self.workers) + len(self._pending_assign) + 1
            store = MemberStore(decode_state, encode_state, hot_limit=self._members_share(held))
            engine = Engine(self.policy, agents=self.table, members=store)
            for member_id, data in members.items():
                store.put_encoded(member_id, data)
                engine.watch(member_id, watched_agents(data))
            worker = PartitionWorker(p, engine, dict(meta.applied),
                                     (self.enrollments, self.plan_changes),
                                     decided=dict(meta.decided))
            self.workers[p] = worker
            # The enrollments are read from the group's offset and filtered by the worker;
            # the plan changes start past both that offset and what the changelog says is
            # decided (an operator may have moved the group forward to skip records).
            committed = self._committed([TopicPartition(self.plan_changes, p)])[0].offset
            start = max(committed, meta.decided.get(self.plan_changes, -1))
            if start > committed:
                worker.positions[self.plan_changes] = start  # the group catches up
            start = start if start >= 0 else OFFSET_BEGINNING
            self.follower.incremental_assign([TopicPartition(self.plan_changes, p, start)])
            self.flow.release(p)
            self.stats.restored_members += len(members)
            seconds = time.monotonic() - started
            self.metrics.restore_seconds.observe(seconds)
            log.info("partition.restored", partition=p, members=len(members),
                     seconds=round(seconds, 3))
        self._share_members_bound()
        self.metrics.assigned_partitions.set(len(self.workers))

    def _members_share(self, partitions: int) -> int:
        return -(-self.settings.members_in_memory // partitions)

    def _share_members_bound(self) -> None:
        """AOR_MEMBERS_IN_MEMORY decoded members for the instance, shared out evenly over
        the partitions it holds now."""
        if not self.workers:
            return
        limit = self._members_share(len(self.workers))
        for worker in self.workers.values():
            store = worker.engine.members
            if isinstance(store, MemberStore) and store.hot_limit != limit:
                store.resize(limit)

    def _committed(self, partitions: list[TopicPartition], timeout_s: float = 120.0
                   ) -> list[TopicPartition]:
        """The group's committed offsets. Errors of a coordinator that is moving or
        loading (a broker restart) and offsets a transaction still holds are retried
        until ``timeout_s``; an instance that gave up on them would die mid-restore."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                found: list[TopicPartition] = self.driver.committed(partitions, timeout=30)
                return found
            except KafkaException as failure:
                error = failure.args[0] if failure.args else None
                code = error.code() if isinstance(error, KafkaError) else None
                if code not in _COORDINATOR_BUSY or time.monotonic() > deadline:
                    raise
                log.warning("committed.retry", error=str(failure))
                self.health.beat()
                time.sleep(0.5)

    # -- input ------------------------------------------------------------------

    def _ingest(self, messages: list[Any]) -> None:
        read: dict[str, int] = {}  # per topic; one labelled metric call per batch
        for msg in messages:
            topic, p = msg.topic(), msg.partition()
            error = msg.error()
            worker = self.workers.get(p)
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    if worker is not None:
                        worker.mark_end(topic)
                    continue
                # A fatal consumer error arrives as an event of code _FATAL whose own
                # fatal() is False (e.g. a static member fenced after its session
                # expired during a broker outage): the consumer is dead, so is the run.
                if error.fatal() or error.code() == KafkaError._FATAL:
                    raise KafkaException(error)
                log.warning("consumer.error", error=str(error))
                continue
            if worker is None:
                continue  # revoked while the batch was in flight; re-read by the new owner
            read[topic] = read.get(topic, 0) + 1
            self.stats.inputs += 1
            self._last_activity = time.monotonic()
            kind = RecordKind.ENROLLMENT if topic == self.enrollments else RecordKind.PLAN_CHANGE
            _, timestamp_ms = msg.timestamp()
            record: Enrollment | PlanChange | None = None
            letter: DeadLetter | None = None
            decoded = decode_event(kind, msg.key(), msg.value(), msg.headers(), p,
                                   self.input_partitions, self.wire,
                                   self.settings.input_partitioner)
            if isinstance(decoded, Refused):
                letter = self._letter(msg, decoded.error_type, decoded.message)
            else:
                record = decoded
            worker.add(Inbound(topic, msg.offset(), timestamp_ms, record, letter, msg.key(),
                               msg.value()))
        for topic, n in read.items():
            self.metrics.records_in.labels(topic=topic).inc(n)

    def _letter(self, msg: Any, error_type: str, message: str) -> DeadLetter:
        return DeadLetter(source=msg.topic(), partition=msg.partition(), offset=msg.offset(),
                          key=msg.key(), value=msg.value(), error_type=error_type,
                          error_message=message, failed_at=self.clock())

    # -- processing and the transaction ---------------------------------------------

    def _process(self) -> Produced:
        out = Produced()
        budget = self.settings.batch_size
        wait_s = self.settings.max_gate_wait_ms / 1000
        for p in sorted(self.workers):
            if budget <= 0:
                break
            budget -= self.workers[p].step(self.feed, out, budget, wait_s, time.monotonic,
                                           self.clock)
        self._progressed = budget < self.settings.batch_size
        return out

    def _commit(self, out: Produced) -> None:
        offsets = [TopicPartition(topic, p, pos)
                   for p, w in self.workers.items() for topic, pos in w.positions.items()]
        dirty = [w for w in self.workers.values() if w.dirty or w.meta_dirty or w.positions]
        if not out.decisions and not out.letters and not dirty and not offsets:
            return
        s = self.settings
        started = time.monotonic()
        produced: dict[str, int] = {}

        def send(topic: str, obj: object) -> None:
            # A failed delivery fails commit_transaction, which aborts and rewinds.
            send_output(self.producer, self.wire, topic, obj)
            produced[topic] = produced.get(topic, 0) + 1

        try:
            self.producer.begin_transaction()
            for decision in out.decisions:
                send(s.assignments_topic, decision.assignment)
                for adjustment in decision.adjustments:
                    send(s.adjustments_topic, adjustment)
            for letter in out.letters:
                send(s.dead_letters_topic, fit_dead_letter(letter, self.max_record_bytes))
            for worker in dirty:
                for member_id in sorted(worker.dirty):
                    state = worker.engine.members[member_id]
                    self.producer.produce(s.changelog_topic, key=member_id.encode(),
                                          value=encode_state(state),
                                          partition=worker.partition)
                if worker.meta_dirty or worker.positions:
                    self.producer.produce(s.changelog_topic, key=META_KEY,
                                          value=encode_meta(worker.meta),
                                          partition=worker.partition)
            if offsets:
                with self.watchdog.guard("send_offsets_to_transaction", 30):
                    self.producer.send_offsets_to_transaction(
                        offsets, self.driver.consumer_group_metadata(), 30)
            with self.watchdog.guard("commit_transaction", 60):
                self.producer.commit_transaction(60)
        except KafkaException as failure:
            self._abort(failure)
            return
        for worker in dirty:
            worker.dirty.clear()
            worker.meta_dirty = False
        for w in self.workers.values():
            w.positions.clear()
        self.metrics.transaction_seconds.observe(time.monotonic() - started)
        self.metrics.transactions.labels(result="committed").inc()
        for topic, n in produced.items():
            self.metrics.records_out.labels(topic=topic).inc(n)
        self._count(out)

    def _count(self, out: Produced) -> None:
        st = self.stats
        st.transactions += 1
        st.early += out.early
        self.metrics.early_decisions.inc(out.early)
        self.metrics.duplicates.inc(out.duplicates)
        outcomes: dict[str, int] = {}
        for decision in out.decisions:
            a = decision.assignment
            if a.revision:
                st.corrections += 1
            else:
                outcomes[a.outcome] = outcomes.get(a.outcome, 0) + 1
        self.metrics.corrections.inc(len(out.decisions) - sum(outcomes.values()))
        for outcome, n in outcomes.items():
            name = str(outcome)  # the enum's value
            st.decisions += n
            st.outcomes[name] = st.outcomes.get(name, 0) + n
            self.metrics.decisions.labels(outcome=name).inc(n)
        for letter in out.letters:
            st.dead_letters += 1
            self.metrics.dead_letters.labels(error_type=letter.error_type).inc()
        self.metrics.members.set(sum(len(w.engine.members) for w in self.workers.values()))

    def _abort(self, failure: KafkaException) -> None:
        error = failure.args[0] if failure.args else None
        self.stats.aborted += 1
        self.metrics.transactions.labels(result="aborted").inc()
        if error is not None and hasattr(error, "fatal") and error.fatal():
            raise failure
        log.warning("transaction.aborted", error=str(failure))
        try:
            with self.watchdog.guard("abort_transaction", 60):
                self.producer.abort_transaction(60)
        except KafkaException as again:
            raise RuntimeError(f"could not abort the transaction: {again}") from failure
        self._rewind()

    def _rewind(self) -> None:
        """Back to the last committed offsets and state: rebuild every partition."""
        owned = sorted(self.workers)
        self.workers.clear()
        for p in owned:
            self.flow.forget(p)  # released again when rebuilt
        self.follower.incremental_unassign([TopicPartition(self.plan_changes, p) for p in owned])
        committed = self._committed([TopicPartition(self.enrollments, p) for p in owned])
        for tp in committed:
            self.driver.seek(TopicPartition(self.enrollments, tp.partition,
                                            tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))
        self._pending_assign.extend(owned)

    # -- the loop ---------------------------------------------------------------

    def run(self, until_idle_s: float | None = None) -> RunStats:
        # Wrong credentials or an untrusted broker certificate: fail now, in a second,
        # rather than time out on the first request with "Broker transport failure".
        verify_access(self.settings)
        self._check_topics()
        self._clients()
        with self.watchdog.guard("init_transactions", 60):
            self.producer.init_transactions(60)
        self.feed = AgentFeed(self.table_consumer, self.settings.agent_status_topic, self.wire,
                              self.table, self.clock)
        self.feed.start()
        self.feed.bootstrap(on_progress=lambda _: self.health.beat())
        self.metrics.agent_snapshots.set(len(self.table))
        log.info("agent_table.bootstrapped", snapshots=len(self.table))
        self.driver.subscribe([self.enrollments], on_assign=self._on_assign,
                              on_revoke=self._on_revoke, on_lost=self._on_revoke)
        previous = [signal.signal(signal.SIGTERM, self._stop),
                    signal.signal(signal.SIGINT, self._stop)]
        self.health.ready = True
        try:
            while not self.stopping:
                self.security.raise_if_failed(self.settings)
                self.health.beat()
                self.metrics.last_loop.set(time.time())
                # A batch consume waits its whole timeout unless the batch fills, so wait
                # once per turn at most, and not at all while buffered inputs are still
                # being decided: a drained driver would otherwise cost every turn 50 ms
                # (about 40% of a catch-up run's time). The follower only takes what is
                # already fetched when the driver brought something.
                wait_s = 0.0 if self._progressed else 0.05
                messages = self.driver.consume(self.settings.batch_size, wait_s)
                self._restore_pending()
                messages += self.follower.consume(self.settings.batch_size,
                                                  0.0 if messages else wait_s)
                if self.feed.poll(5000, 0.0):
                    self._last_activity = time.monotonic()
                    self.metrics.agent_snapshots.set(len(self.table))
                self._ingest(messages)
                out = self._process()
                self.flow.regulate(self.workers)
                self._commit(out)
                if out.decisions or out.letters:
                    self._last_activity = time.monotonic()
                self._measure_lag()
                if until_idle_s is not None and self._idle_for() >= until_idle_s:
                    log.info("run.idle", seconds=until_idle_s)
                    break
        finally:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
            self.health.ready = False
            self._close()
        self.stats.largest_buffer = self.flow.peak
        return self.stats

    def _measure_lag(self) -> None:
        """Consumer lag per input topic, from cached watermarks, every few seconds."""
        now = time.monotonic()
        if now - self._lag_measured < 5.0:
            return
        self._lag_measured = now
        for topic, consumer in ((self.enrollments, self.driver),
                                (self.plan_changes, self.follower)):
            lag = 0
            for p, worker in self.workers.items():
                tp = TopicPartition(topic, p)
                try:
                    _, high = consumer.get_watermark_offsets(tp, cached=True)
                    position = consumer.position([tp])[0].offset
                except KafkaException:
                    continue
                if high >= 0 and position >= 0:
                    lag += max(0, high - position)
                lag += len(worker.buffers[topic])
            self.metrics.consumer_lag.labels(topic=topic).set(lag)

    def _idle_for(self) -> float:
        if not self.ever_assigned or self._pending_assign:
            return 0.0
        busy = any(not w.idle or self.feed.has_pending(w.applied) or w.dirty or w.meta_dirty
                   for w in self.workers.values())
        if busy or not self.feed.caught_up():
            self._last_activity = time.monotonic()
            return 0.0
        return time.monotonic() - self._last_activity

    def _stop(self, signum: int, frame: object) -> None:
        log.info("run.stopping", signal=signum)
        self.stopping = True

    def _close(self) -> None:
        # The driver first: closing it revokes partitions, which touches the follower.
        for name, consumer in (("driver", self.driver), ("follower", self.follower),
                               ("table", self.table_consumer), ("restorer", self.restorer)):
            try:
                consumer.close()
            except (KafkaException, RuntimeError, SystemError) as failure:
                log.warning("consumer.close_failed", consumer=name, error=str(failure))
        self.producer.flush(30)
        self.watchdog.stop()
