"""Kafka latency: input append to output visibility for `aor-processor run` (exactly-once)
at a steady, moderate rate.

    .venv/bin/python -m bench.kafka_latency                        # 200 events/s for 60 s
    .venv/bin/python -m bench.kafka_latency --seconds 30 --rate 200

On one broker (KAFKA_BOOTSTRAP_SERVERS, else a LocalKafka started here):

1. fresh input topics and a fresh application id (`topics create`), so nothing is restored;
2. one `aor-processor run` instance (exactly-once, as always), waited for until its /readyz
   answers and its /metrics say it owns every input partition;
3. a read_committed consumer of the assignments and dead-letters topics, in a thread;
4. a generated history's inputs (the cached history of bench/common.py), read and sent as
   `aor-processor load` sends them (processor/kafka/load.py: merge order, keyed by member
   or agent id, record timestamp = recorded_at, the settings' Avro wire format), with the
   member events (enrollments and plan changes) paced at --rate for --seconds. The
   agent-status snapshots between them go out in their place in that order, unpaced and
   not counted as events.

An event's append time is when its delivery report arrives (acks=all: the broker has
appended it). The record timestamp cannot be used: it is recorded_at, a historical time.
Its visibility time is when the consumer first receives an assignment whose
source_event_id is the event's id, which is after the transaction holding it commits.
Latency = visibility - append, both on this process's monotonic clock; the consumer
fetches with fetch.wait.max.ms=10, so the resolution is about 10 ms. Events appended in
the first --warmup seconds are left out of the percentiles (and reported apart).

Events without an assignment are counted, not failed: dead-lettered ones (matched by the
dead letter's source topic, partition and offset; their latency is reported apart),
repeats of an event id already sent (decided once), and any still unanswered when the
drain ends. The processor's own counters are read from its /metrics before it stops:
transactions and their mean duration, and early decisions (events the agent-status gate
held for AOR_MAX_GATE_WAIT_MS and then decided anyway). The settings the processor ran with
(batch size, gate wait, ...) are reported with the figures, which go to
bench/results/kafka_latency.json.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import (
    CLI,
    ROOT,
    cli,
    consumer,
    ensure_history,
    http_get,
    load_average,
    run_summary,
    topic_env,
    write_results,
)

# Producer of the inputs: as `load` (idempotent, acks=all), but each record is sent at
# once: its append time is what is measured, so batching it would only delay it.
PRODUCER_CONFIG: dict[str, str | int | bool] = {
    "enable.idempotence": True, "acks": "all", "linger.ms": 0}
WATCHER_FETCH_WAIT_MS = 10
# Cached history sizes (bench/common.py); a run takes the smallest with events to spare.
HISTORY_SIZES = (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000)
EVENTS_PER_MEMBER = 2.0  # about 2.2 in the generated histories
# Fixed in processor/runtime/loop.py, reported with the settings.
PROCESSOR_FIXED = {"producer_linger_ms": 5, "consume_timeouts_ms_per_loop_turn": [50, 50],
                   "transaction_per_loop_turn": True, "isolation_level": "read_committed"}


@dataclass(slots=True)
class Sent:
    """One member event produced: when it was queued and when the broker appended it."""

    event_id: str
    topic: str
    queued: float
    behind_s: float  # how late against the pacing schedule it was queued
    appended: float | None = None
    partition: int = -1
    offset: int = -1
    error: str | None = None


def delivered(entry: Sent, error: Any, message: Any) -> None:
    entry.appended = time.monotonic()
    if error is not None:
        entry.error = str(error)
        return
    entry.partition, entry.offset = message.partition(), message.offset()


class Watcher(threading.Thread):
    """Reads the committed assignments and dead letters as they become visible and notes
    when each event id (assignment) and each input offset (dead letter) is first seen."""

    def __init__(self, bootstrap: str, assignments: str, dead_letters: str, wire: Any) -> None:
        super().__init__(name="latency-watcher", daemon=True)
        self.bootstrap = bootstrap
        self.assignments = assignments
        self.dead_letters = dead_letters
        self.wire = wire
        self.first_seen: dict[str, float] = {}  # source_event_id -> first assignment seen
        self.letters: dict[tuple[str, int, int], float] = {}  # input (topic, p, offset)
        self.records = 0
        self.corrections = 0
        self.undecodable = 0
        self.last_record = time.monotonic()
        self.listening = threading.Event()
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as failure:  # reported by the main thread
            self.failure = failure
            self.listening.set()

    def _run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from processor.codec.errors import DecodeError
        from processor.codec.kinds import RecordKind

        c = consumer(self.bootstrap, **{"fetch.wait.max.ms": WATCHER_FETCH_WAIT_MS,
                                        "enable.partition.eof": False})
        parts: list[Any] = []
        for topic in (self.assignments, self.dead_letters):
            meta = c.list_topics(topic, timeout=30).topics[topic]
            parts += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
            for p in meta.partitions:  # connected to the leaders before anything is sent
                c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        c.assign(parts)
        c.consume(1000, 0.5)
        self.listening.set()
        while not self.stopping.is_set():
            messages = c.consume(1000, 0.05)
            seen = time.monotonic()
            for msg in messages:
                if msg.error() is not None:
                    raise RuntimeError(f"watcher: {msg.error()}")
                self.records += 1
                self.last_record = seen
                try:
                    if msg.topic() == self.assignments:
                        a = self.wire.decode(RecordKind.ASSIGNMENT, msg.value(), msg.headers())
                        self.corrections += a.revision > 0
                        self.first_seen.setdefault(a.source_event_id, seen)
                    else:
                        d = self.wire.decode(RecordKind.DEAD_LETTER, msg.value(), msg.headers())
                        if d.partition is not None and d.offset is not None:
                            self.letters.setdefault((d.source, d.partition, d.offset), seen)
                except DecodeError:
                    self.undecodable += 1
        c.close()


def percentiles(values: list[float]) -> dict[str, Any]:
    """Count, min, p50, p90, p99, max and mean of latencies in seconds, as milliseconds
    (nearest-rank percentiles)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def ms(x: float) -> float:
        return round(x * 1000, 1)

    return {"count": len(ordered), "min_ms": ms(ordered[0]), "p50_ms": ms(rank(50)),
            "p90_ms": ms(rank(90)), "p99_ms": ms(rank(99)), "max_ms": ms(ordered[-1]),
            "mean_ms": ms(statistics.fmean(ordered))}


def scrape(port: int) -> dict[str, float]:
    """The processor's /metrics samples, keyed `name{label="value",...}` ({} if none)."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = http_get(port, "/metrics")
    if status != 200:
        return {}
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def wait_ready(proc: subprocess.Popen[bytes], port: int, partitions: int, log: Path,
               timeout: float) -> float:
    """Wait until /readyz says ready and the instance owns every input partition (restored);
    returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"aor-processor run exited ({proc.returncode}) before it was "
                               f"ready: {log.read_text()[-3000:]}")
        status, _ = http_get(port, "/readyz", timeout=2.0)
        if status == 200 and scrape(port).get("aor_assigned_partitions") == partitions:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"aor-processor run was not ready after {timeout:.0f} s: "
                       f"{log.read_text()[-3000:]}")


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ = env for the block: the processor's settings, as it will read them."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def plan_inputs(folder: Path, events: int) -> tuple[list[tuple[Any, Any]], int]:
    """The history's good inputs in merge order (as `load` reads them), up to and including
    the `events`-th member event; and how many member events that is."""
    from processor.codec.kinds import RecordKind
    from processor.kafka.load import read_folder

    records, _ = read_folder(folder)
    plan: list[tuple[Any, Any]] = []
    count = 0
    for kind, record in records:
        if count >= events:
            break
        plan.append((kind, record))
        count += kind is not RecordKind.AGENT_STATUS
    return plan, count


def produce_paced(settings: Any, plan: list[tuple[Any, Any]], rate: float,
                  watcher: Watcher) -> tuple[list[Sent], int, float]:
    """Send the plan, member events at `rate` per second; returns the events sent, the
    snapshots sent and the seconds from the first event to the last delivery report."""
    from processor.codec.kinds import RecordKind
    from processor.codec.wire import key_of
    from processor.kafka.clients import producer
    from processor.kafka.load import timestamp_ms
    from processor.kafka.registry import wire_codec
    from processor.kafka.topics import topic_for

    wire = wire_codec(settings, auto_register=True)
    client = producer(settings, **PRODUCER_CONFIG)
    errors: list[str] = []

    def snapshot_delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(f"{message.topic()}: {error}")

    sent: list[Sent] = []
    snapshots = 0
    first: float | None = None
    for kind, record in plan:
        value, headers = wire.encode(record)  # encoded before its slot, not in it
        topic = topic_for(settings, kind)
        callback: Any = snapshot_delivered
        if kind is RecordKind.AGENT_STATUS:
            snapshots += 1
        else:
            now = time.monotonic()
            first = now if first is None else first
            due = first + len(sent) / rate
            while (wait := due - time.monotonic()) > 0:
                client.poll(wait)  # serves delivery reports as they come while waiting
            now = time.monotonic()
            entry = Sent(record.event_id, topic, now, max(0.0, now - due))
            sent.append(entry)
            callback = partial(delivered, entry)
        while True:
            try:
                client.produce(topic, value=value, key=key_of(record),
                               headers=list(headers) or None,
                               timestamp=timestamp_ms(record.recorded_at), on_delivery=callback)
                break
            except BufferError:
                client.poll(0.05)
        client.poll(0)
        if errors or watcher.failure is not None:
            break
    remaining = client.flush(60)
    if errors or remaining:
        raise RuntimeError(f"input not delivered: {errors[:1]} ({remaining} undelivered)")
    last = max((e.appended for e in sent if e.appended is not None), default=time.monotonic())
    return sent, snapshots, last - (first or last)


def drain(sent: list[Sent], watcher: Watcher, quiet_s: float) -> float:
    """Wait until every event id has an assignment or a dead letter, or nothing new has
    been visible for `quiet_s`; returns the seconds waited."""
    started = time.monotonic()
    firsts: dict[str, Sent] = {}
    for e in sent:
        firsts.setdefault(e.event_id, e)
    while watcher.failure is None:
        pending = sum(not (e.event_id in watcher.first_seen
                           or (e.topic, e.partition, e.offset) in watcher.letters)
                      for e in firsts.values())
        # With every event id answered, a repeat of one may still get a dead letter: a
        # short quiet spell is enough then.
        if time.monotonic() - watcher.last_record > (quiet_s if pending else min(quiet_s, 2.0)):
            break
        time.sleep(0.2)
    return time.monotonic() - started


def classify(sent: list[Sent], watcher: Watcher, measure_from: float) -> dict[str, Any]:
    """Latencies of the matched events, and the counts of the others."""
    measured: list[float] = []
    warmup: list[float] = []
    letters: list[float] = []
    repeats = unanswered = failed = 0
    first_of: set[str] = set()
    for e in sent:
        if e.appended is None or e.error is not None:
            failed += 1
            continue
        repeat = e.event_id in first_of
        first_of.add(e.event_id)
        letter = watcher.letters.get((e.topic, e.partition, e.offset))
        seen = None if repeat else watcher.first_seen.get(e.event_id)
        if letter is not None:
            letters.append(letter - e.appended)
        elif seen is not None:
            (measured if e.appended >= measure_from else warmup).append(seen - e.appended)
        elif repeat:
            repeats += 1
        else:
            unanswered += 1
    return {"latency": percentiles(measured), "latency_warmup": percentiles(warmup),
            "dead_lettered": percentiles(letters), "repeated_event_ids": repeats,
            "unanswered": unanswered, "not_delivered": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, metavar="EVENTS_PER_S",
                        help="member events (enrollments and plan changes) sent per second "
                             "(default 200)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="how long to send for: rate x seconds events (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, metavar="SECONDS",
                        help="events appended in the first SECONDS are left out of the "
                             "percentiles and reported apart (default 5)")
    parser.add_argument("--members", type=int,
                        help="members of the generated history (default: the smallest of "
                             f"{', '.join(f'{m:,}' for m in HISTORY_SIZES)} with about "
                             "rate x seconds events; cached in .cache/bench/histories)")
    parser.add_argument("--agents", type=int, help="agents of the history (default: members / 10)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--partitions", type=int, default=6,
                        help="partitions of the input topics (default 6)")
    parser.add_argument("--batch-size", type=int,
                        help="the processor's --batch-size, inputs per transaction at most "
                             "(default: AOR_BATCH_SIZE or the processor's default, 500)")
    parser.add_argument("--max-gate-wait-ms", type=int, metavar="MS",
                        help="the processor's --max-gate-wait-ms (default: "
                             "AOR_MAX_GATE_WAIT_MS or the processor's default, 5000)")
    parser.add_argument("--drain-timeout", type=float, default=20.0, metavar="SECONDS",
                        help="after the last event, stop waiting for outputs once nothing "
                             "new has been visible for SECONDS (default 20)")
    parser.add_argument("--ready-timeout", type=float, default=180.0, metavar="SECONDS",
                        help="longest wait for the processor to be ready (default 180)")
    parser.add_argument("--name", default="kafka_latency",
                        help="results go to bench/results/NAME.json (default kafka_latency)")
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0:
        parser.error("--rate and --seconds must be positive")
    from processor.config import load_settings
    from processor.devkafka.net import free_port
    from processor.devkafka.provider import bootstrap_servers
    from processor.kafka.registry import wire_codec

    wanted = round(args.rate * args.seconds)
    members = args.members or next(
        (m for m in HISTORY_SIZES if m * EVENTS_PER_MEMBER >= wanted), HISTORY_SIZES[-1])
    agents = args.agents or max(10, members // 10)
    folder = ensure_history(members, agents, args.seed, 0.005, ("jsonl",))["jsonl"]
    plan, events = plan_inputs(folder, wanted)
    if events < wanted:
        print(f"note: the history has only {events:,} events; sending those", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp, \
            bootstrap_servers(Path(tmp) / "kafka") as bootstrap:
        token = uuid.uuid4().hex[:8]
        app = f"bench-lat-{token}"
        env = topic_env(bootstrap, f"bench-lat-in-{token}", app)
        port = free_port()
        env["AOR_METRICS_PORT"] = str(port)
        if args.batch_size is not None:
            env["AOR_BATCH_SIZE"] = str(args.batch_size)
        if args.max_gate_wait_ms is not None:
            env["AOR_MAX_GATE_WAIT_MS"] = str(args.max_gate_wait_ms)
        env["AOR_INSTANCE_ID"] = "i0"
        cli(["topics", "create", "--partitions", str(args.partitions)], env)
        with environment(env):
            settings = load_settings()  # what the processor will run with
        log_path = Path(tmp) / "run.log"
        load_before = load_average()
        with log_path.open("w") as log:
            proc = subprocess.Popen([*CLI, "run"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=log)
        watcher = Watcher(bootstrap, settings.assignments_topic, settings.dead_letters_topic,
                          wire_codec(settings))
        try:
            ready_s = wait_ready(proc, port, args.partitions, log_path, args.ready_timeout)
            print(f"processor ready in {ready_s:.1f} s (load {load_average()[0]}); sending "
                  f"{events:,} events at {args.rate:g}/s ...", flush=True)
            watcher.start()
            watcher.listening.wait(60)
            if watcher.failure is not None:
                raise RuntimeError(f"watcher failed: {watcher.failure}")
            started = time.monotonic()
            sent, snapshots, send_s = produce_paced(settings, plan, args.rate, watcher)
            drained_s = drain(sent, watcher, args.drain_timeout)
            metrics = scrape(port)
        finally:
            watcher.stopping.set()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # drains and closes
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            if watcher.ident is not None:  # started
                watcher.join(10)
        load_after = load_average()
        if watcher.failure is not None:
            raise RuntimeError(f"watcher failed: {watcher.failure}")
        summary = run_summary(log_path.read_text())
        measure_from = started + args.warmup
        found = classify(sent, watcher, measure_from)

    def metric(name: str) -> float:
        return metrics.get(name, 0.0)

    tx_count = metric("aor_transaction_seconds_count")
    processor = {
        "transactions_committed": metric('aor_transactions_total{result="committed"}'),
        "transactions_aborted": metric('aor_transactions_total{result="aborted"}'),
        "transaction_mean_ms": (round(metric("aor_transaction_seconds_sum") / tx_count * 1000, 1)
                                if tx_count else None),
        "early_decisions": metric("aor_early_decisions_total"),
        "duplicate_events": metric("aor_duplicate_events_total"),
        "summary": summary,
    }
    behind = [e.behind_s for e in sent]
    lat = found["latency"]
    print(f"{len(sent):,} events ({snapshots:,} snapshots between them) sent in {send_s:.1f} s "
          f"= {len(sent) / max(send_s, 0.001):,.0f}/s (queued at most "
          f"{max(behind, default=0) * 1000:.0f} ms behind schedule); drained in "
          f"{drained_s:.1f} s")
    if lat["count"]:
        print(f"latency, append -> visible (read_committed), {lat['count']:,} events after "
              f"{args.warmup:g} s warm-up: p50 {lat['p50_ms']} ms, p90 {lat['p90_ms']} ms, "
              f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms")
    else:
        print("latency: no event was matched after the warm-up")
    print(f"no assignment: {found['dead_lettered']['count']} dead-lettered, "
          f"{found['repeated_event_ids']} repeated event ids, {found['unanswered']} unanswered, "
          f"{found['not_delivered']} not delivered; early (gate timed out) decisions "
          f"{processor['early_decisions']:g}; {processor['transactions_committed']:g} "
          f"transactions, mean {processor['transaction_mean_ms']} ms; load average "
          f"{load_before} before, {load_after} after")
    write_results(args.name, {
        "rate": args.rate, "seconds": args.seconds, "warmup_seconds": args.warmup,
        "members": members, "agents": agents, "partitions": args.partitions,
        "history": str(folder.relative_to(ROOT)),
        "settings": {"batch_size": settings.batch_size,
                     "max_gate_wait_ms": settings.max_gate_wait_ms,
                     "session_timeout_ms": settings.session_timeout_ms,
                     "static_membership": settings.static_membership,
                     "wire_format": settings.wire_format.value,
                     **PROCESSOR_FIXED,
                     "bench_producer": PRODUCER_CONFIG,
                     "watcher_fetch_wait_max_ms": WATCHER_FETCH_WAIT_MS},
        "sent": {"events": len(sent), "snapshots": snapshots, "seconds": round(send_s, 2),
                 "events_per_s": round(len(sent) / max(send_s, 0.001), 1),
                 "max_behind_schedule_ms": round(max(behind, default=0) * 1000, 1)},
        "ready_seconds": round(ready_s, 2), "drain_seconds": round(drained_s, 2),
        **found,
        "outputs_seen": {"assignments_and_dead_letters": watcher.records,
                         "corrections": watcher.corrections, "undecodable": watcher.undecodable},
        "processor": processor,
        "load_average_before": load_before, "load_average_after": load_after})


if __name__ == "__main__":
    main()
