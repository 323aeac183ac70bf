"""Member-state codec: encode_state / decode_state over realistic member states.

    .venv/bin/python -m bench.restore                    # 100,000 members
    .venv/bin/python -m bench.restore --members 20000 --profile
    KAFKA_BOOTSTRAP_SERVERS=host:port .venv/bin/python -m bench.restore   # + a Kafka restore

The member states are those of a file replay of a generated history (cached in
.cache/bench/histories/, agents = members / 10, seed 1, as bench.replay), run in process:
the engine's `members` after the last input. Every state is then encoded and decoded, and
the bench asserts that decode_state(encode_state(s)) == s for every one of them (and that
re-encoding a decoded state gives the same bytes). When the codec has a writer of the
older format (`state_codec.encode_state_v1`), decoding format-1 records, as changelogs
written before format 2 hold them, is timed and checked too.

Figures are CPU seconds (time.process_time, best of --repeat), microseconds per member and
bytes per member, with the load average; the encode and decode loops run as the Kafka
runtime runs them, under processor.gc_tuning.long_lived_heap. With KAFKA_BOOTSTRAP_SERVERS
set, the encoded states are also produced to a fresh topic and read back with
processor.runtime.restore.restore_partition, partition by partition, timed (wall and CPU,
under long_lived_heap as `aor-processor run` restores), into member stores bounded as `run`
bounds them (--members-in-memory shared over the partitions), all kept; it reports the
bytes they hold encoded.
Results go to bench/results/restore.json (or --name).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, ensure_history, write_results


def clock() -> datetime:
    return datetime.now(UTC)


def build_states(members: int, agents: int, seed: int) -> tuple[list[Any], dict[str, Any]]:
    """The member states after replaying the generated history (Avro: decodes faster)."""
    from processor.codec.dead_letter import DeadLetter
    from processor.domain.engine import Engine
    from processor.domain.model import Decision
    from processor.domain.settings import PolicySettings
    from processor.files import replay as replay_module
    from processor.files.summary import RunSummary

    class Silent:
        def decisions(self, decisions: tuple[Decision, ...]) -> None:
            pass

        def dead_letter(self, letter: DeadLetter) -> None:
            pass

    folder = ensure_history(members, agents, seed, 0.005, ("avro",))["avro"]
    started = time.perf_counter()
    engine = Engine(PolicySettings())
    summary = RunSummary()
    inputs = replay_module._decode_all(replay_module.input_files(folder), clock, Silent(),
                                       summary)
    replay_module.replay_inputs(inputs, engine.settings, Silent(), clock, summary=summary,
                                engine=engine)
    del inputs
    states = list(engine.members.values())
    entries = sum(len(s.history) for s in states)
    adjustments = sum(len(e.adjustments) for s in states for e in s.history)
    facts = {"history": str(folder.relative_to(ROOT)), "members": len(states),
             "history_entries": entries, "adjustments": adjustments,
             "replay_seconds": round(time.perf_counter() - started, 1)}
    print(f"{len(states):,} members ({entries:,} history entries, {adjustments:,} "
          f"retained adjustments) replayed in {facts['replay_seconds']} s", flush=True)
    return states, facts


def timed(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> tuple[list[Any], float]:
    """fn over every item, best CPU seconds of `repeat` runs, under the runtime's GC tuning."""
    from processor.gc_tuning import long_lived_heap

    best = float("inf")
    out: list[Any] = []
    for _ in range(repeat):
        out = []  # the previous run's results are freed outside the timed loop
        with long_lived_heap():
            cpu0 = time.process_time()
            out = [fn(item) for item in items]
            best = min(best, time.process_time() - cpu0)
    return out, best


def figures(label: str, cpu: float, members: int, total_bytes: int | None = None
            ) -> dict[str, Any]:
    result: dict[str, Any] = {"cpu_seconds": round(cpu, 3),
                              "us_per_member": round(cpu / members * 1e6, 2)}
    line = f"  {label:<22} {cpu:7.2f} CPU s = {result['us_per_member']:7.2f} µs/member"
    if total_bytes is not None:
        result["bytes_per_member"] = round(total_bytes / members, 1)
        result["total_mib"] = round(total_bytes / 2**20, 1)
        line += f", {result['bytes_per_member']:,.0f} bytes/member"
    print(line, flush=True)
    return result


def check(states: Sequence[Any], decoded: Sequence[Any], label: str) -> None:
    bad = sum(1 for s, d in zip(states, decoded, strict=True) if s != d)
    if bad:
        raise SystemExit(f"{label}: {bad:,} of {len(states):,} members differ after decoding")


def profile(fn: Callable[[Any], Any], items: Sequence[Any], path: Path) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for item in items:
        fn(item)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    path.write_text(text.getvalue())
    print(f"  profile: {path.relative_to(ROOT)}", flush=True)


def kafka_restore(bootstrap: str, states: Sequence[Any], blobs: Sequence[bytes],
                  partitions: int, copies: int = 1,
                  members_in_memory: int = 100_000) -> dict[str, Any]:
    """Produce the encoded states to a fresh topic, then time restore_partition on each.

    With ``copies`` > 1 every state is produced that many times under distinct keys
    (``<member_id>~<k>``), to time a restore of more members than were replayed."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    from processor.domain.engine import Engine
    from processor.domain.settings import PolicySettings
    from processor.gc_tuning import long_lived_heap
    from processor.runtime.restore import restore_partition
    from processor.state.codec import decode_state, encode_state, watched_agents
    from processor.state.store import MemberStore

    topic = f"bench-restore-{uuid.uuid4().hex[:8]}.member-state.changelog"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1, config={
        "cleanup.policy": "compact"})])[topic].result(60)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "compression.type": "lz4", "queue.buffering.max.messages": 200000})
    started = time.perf_counter()
    for copy in range(copies):
        suffix = f"~{copy}" if copy else ""
        for state, blob in zip(states, blobs, strict=True):
            while True:
                try:
                    producer.produce(topic, key=f"{state.member_id}{suffix}".encode(),
                                     value=blob)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("changelog produce did not finish")
    print(f"  produced {len(blobs) * copies:,} states to {topic} in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}.restore",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "enable.partition.eof": True, "fetch.wait.max.ms": 10})
    restored = 0
    held_bytes = 0
    kept: list[Any] = []  # as an instance holding every partition keeps them
    # As `run` restores: under long_lived_heap (without it, full collections over the
    # growing heap of restored members cost as much again as the decoding).
    with long_lived_heap():
        wall0, cpu0, main0 = time.perf_counter(), time.process_time(), time.thread_time()
        try:
            for p in range(partitions):
                # What `run` does with a restored partition: members stay encoded in a
                # MemberStore, decoded on first use, compressed beyond the partition's
                # share of the bound; the watch index is built now.
                members, _ = restore_partition(consumer, topic, p)
                store = MemberStore(decode_state, encode_state,
                                    hot_limit=-(-members_in_memory // partitions))
                engine = Engine(PolicySettings(), members=store)
                for member_id, data in members.items():
                    store.put_encoded(member_id, data)
                    engine.watch(member_id, watched_agents(data))
                restored += len(store)
                held_bytes += store.encoded_bytes
                kept.append(engine)
                del members
        finally:
            wall = time.perf_counter() - wall0
            cpu, main = time.process_time() - cpu0, time.thread_time() - main0
            consumer.close()
            admin.delete_topics([topic])
    if restored != len(states) * copies:
        raise SystemExit(f"restored {restored:,} members of {len(states) * copies:,}")
    result = {"topic_partitions": partitions, "members": restored,
              "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
              "main_thread_cpu_seconds": round(main, 2),
              "members_per_s": round(restored / wall),
              "us_per_member_wall": round(wall / restored * 1e6, 2),
              "us_per_member_cpu": round(cpu / restored * 1e6, 2),
              "members_in_memory": members_in_memory,
              "encoded_mib_held": round(held_bytes / 2**20, 1),
              "encoded_bytes_per_member": round(held_bytes / restored)}
    print(f"  kafka restore: {restored:,} members from {partitions} partitions in {wall:.2f} s "
          f"(CPU {cpu:.2f} s, of which the main thread {main:.2f} s; the rest is librdkafka) "
          f"= {result['members_per_s']:,} members/s; {result['encoded_mib_held']:,} MiB "
          f"held encoded ({result['encoded_bytes_per_member']:,} bytes per member)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000, help="default: 100000")
    parser.add_argument("--agents", type=int, help="default: members / 10")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile encode and decode, to bench/results/<name>-*.txt")
    parser.add_argument("--partitions", type=int, default=6,
                        help="changelog partitions of the Kafka restore")
    parser.add_argument("--kafka-members", type=int,
                        help="members in the Kafka restore (default: --members); more than "
                             "--members repeats the states under other keys, e.g. 1000000")
    parser.add_argument("--members-in-memory", type=int, default=100_000,
                        help="the bound `run` shares over the partitions (default 100000)")
    parser.add_argument("--no-kafka", action="store_true",
                        help="skip the Kafka restore even with KAFKA_BOOTSTRAP_SERVERS set")
    parser.add_argument("--name", default="restore", help="results file stem")
    args = parser.parse_args()
    from processor.state import codec as state_codec

    agents = args.agents or max(10, args.members // 10)
    load_before = [round(x, 2) for x in os.getloadavg()]
    states, facts = build_states(args.members, agents, args.seed)
    n = len(states)
    version = getattr(state_codec, "STATE_VERSION", 1)
    print(f"state format {version}; load average {load_before}", flush=True)

    blobs, encode_cpu = timed(state_codec.encode_state, states, args.repeat)
    encode = figures("encode_state", encode_cpu, n, sum(map(len, blobs)))
    decoded, decode_cpu = timed(state_codec.decode_state, blobs, args.repeat)
    decode = figures("decode_state", decode_cpu, n)
    check(states, decoded, "decode_state(encode_state(s))")
    again = sum(1 for b, d in zip(blobs, decoded, strict=True)
                if state_codec.encode_state(d) != b)
    if again:
        raise SystemExit(f"{again:,} decoded members re-encode to different bytes")
    del decoded
    print(f"  round trip exact for all {n:,} members (states equal, bytes stable)", flush=True)

    legacy: dict[str, Any] | None = None
    encode_v1 = getattr(state_codec, "encode_state_v1", None)
    if encode_v1 is not None:
        old_blobs = [encode_v1(s) for s in states]
        old_decoded, old_cpu = timed(state_codec.decode_state, old_blobs, args.repeat)
        check(states, old_decoded, "decode_state(encode_state_v1(s))")
        del old_decoded
        legacy = figures("decode_state (v1 data)", old_cpu, n, sum(map(len, old_blobs)))
        del old_blobs

    if args.profile:
        RESULTS.mkdir(parents=True, exist_ok=True)
        profile(state_codec.encode_state, states, RESULTS / f"{args.name}-encode-profile.txt")
        profile(state_codec.decode_state, blobs, RESULTS / f"{args.name}-decode-profile.txt")

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    kafka: dict[str, Any] | None = None
    if args.no_kafka:
        print("kafka restore: skipped (--no-kafka)")
    elif not bootstrap:
        print("kafka restore: skipped (KAFKA_BOOTSTRAP_SERVERS is not set; "
              "`aor-processor dev-kafka start` prints one)")
    else:
        kafka = kafka_restore(bootstrap, states, blobs, args.partitions,
                              copies=max(1, -(-(args.kafka_members or n) // n)),
                              members_in_memory=args.members_in_memory)

    write_results(args.name, {
        "members": n, "agents": agents, "seed": args.seed, "repeat": args.repeat,
        "state_format": version, "load_average_before": load_before,
        **facts, "encode": encode, "decode": decode, "decode_v1_data": legacy,
        "round_trip_exact": True, "kafka_restore": kafka})


if __name__ == "__main__":
    main()
