"""Kafka end to end: `aor-processor run` (exactly-once) against a passthrough baseline.

    .venv/bin/python -m bench.kafka_e2e --members 10000
    .venv/bin/python -m bench.kafka_e2e --members 10000 --instances 1 --instances 2

On one broker (KAFKA_BOOTSTRAP_SERVERS, else a LocalKafka started here) and one loaded
history (`topics create`, `load`, through the CLI):

1. the processor: `aor-processor run --until-idle` with N instances (one run per
   --instances value, each with its own application id, output topics and changelog);
2. the passthrough (bench/passthrough.py): the same input records copied to one topic in
   transactions of the same batch size;
3. the restore: every changelog partition of the first processor run read back with
   processor.runtime.restore.restore_partition, timed;
4. the Quix Streams peer (bench/peers/quix_peer.py), when .cache/bench-peer exists.

Throughput is measured on the broker, the same way for both: input events divided by the
span between the first and the last output record's timestamp (CreateTime, stamped as
each record is produced), so start-up, the agent-table bootstrap and the idle wait at the
end are not counted. The wall time of each run is reported too. Figures go to
bench/results/kafka_e2e.json.

For each processor run it also reports the CPU seconds of its instances (user + system,
start-up included), the load average before and after, and each instance's share (inputs,
transactions, rebalance callbacks, from the summary line `run` prints). A run with several
instances must give as many outputs as the first run: `outputs_match_first_run` says so
(an instance that exits with partitions still unprocessed shows up there).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from bench.common import (
    CLI,
    PYTHON,
    ROOT,
    cli,
    consumer,
    ensure_history,
    load_average,
    run_json,
    run_summary,
    topic_env,
    write_results,
)

OUTPUTS = ("assignments", "adjustments", "dead_letters")


def topic_span(bootstrap: str, topics: list[str]) -> dict[str, Any]:
    """Committed records of the topics: count, first and last timestamp (ms)."""
    c = consumer(bootstrap)
    parts: list[TopicPartition] = []
    for topic in topics:
        meta = c.list_topics(topic, timeout=30).topics[topic]
        parts += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
    c.assign(parts)
    pending = {(tp.topic, tp.partition) for tp in parts}
    count, first, last = 0, None, None
    while pending:
        for msg in c.consume(10000, 1.0):
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard((msg.topic(), msg.partition()))
                    continue
                raise RuntimeError(str(error))
            _, ts = msg.timestamp()
            count += 1
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
    c.close()
    return {"records": count, "first_ms": first, "last_ms": last}


def input_count(bootstrap: str, inputs: str) -> int:
    c = consumer(bootstrap)
    total = 0
    for topic in (f"{inputs}.enrollments", f"{inputs}.plan-changes"):
        meta = c.list_topics(topic, timeout=30).topics[topic]
        for p in meta.partitions:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            total += high - low
    c.close()
    return total


def rate(events: int, span: dict[str, Any]) -> dict[str, Any]:
    seconds = max((span["last_ms"] - span["first_ms"]) / 1000, 0.001)
    return {"span_seconds": round(seconds, 3), "events_per_s": round(events / seconds)}


def logged_errors(stderr: str, event: str) -> list[str]:
    """The `error` of each structlog JSON line of `event` in a run's stderr."""
    found: list[str] = []
    for line in stderr.splitlines():
        if event in line and line.startswith("{"):
            try:
                found.append(str(json.loads(line).get("error", "")))
            except ValueError:
                continue
    return found


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished (waited-for) children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_processor(bootstrap: str, inputs: str, instances: int, batch: int, idle: float,
                  events: int) -> dict[str, Any]:
    app = f"bench-{uuid.uuid4().hex[:8]}"
    env = topic_env(bootstrap, inputs, app)
    if instances > 1:
        # An instance that goes idle and exits must hand its partitions over at once (a
        # static member's would wait for the session timeout), and none may exit while
        # another still has work for it: a longer idle wait.
        env["AOR_STATIC_MEMBERSHIP"] = "false"
        idle = max(idle, 10.0)
    cli(["topics", "create"], env)  # the outputs and changelog of this application id
    load_before = load_average()
    cpu_before = children_cpu()
    started = time.perf_counter()
    procs = [subprocess.Popen([*CLI, "run", "--until-idle", str(idle), "--batch-size",
                               str(batch), "--instance-id", f"i{n}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for n in range(instances)]
    per_instance: list[dict[str, Any]] = []
    for n, proc in enumerate(procs):
        _, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"run failed: {err[-3000:]}")
        per_instance.append({"instance": f"i{n}",
                             "exited_after_s": round(time.perf_counter() - started, 2),
                             **(run_summary(err) or {"summary": "not found"}),
                             "abort_errors": logged_errors(err, "transaction.aborted")})
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu_before
    span = topic_span(bootstrap, [env["AOR_ASSIGNMENTS_TOPIC"], env["AOR_ADJUSTMENTS_TOPIC"],
                                  env["AOR_DEAD_LETTERS_TOPIC"]])
    result = {"instances": instances, "application_id": app, "wall_seconds": round(wall, 2),
              "idle_wait_s": idle, "cpu_seconds": round(cpu, 2),
              "cpu_ms_per_event": round(cpu / max(events, 1) * 1000, 3),
              "load_average_before": load_before,
              "load_average_after": load_average(), "outputs": span["records"],
              **rate(events, span), "per_instance": per_instance}
    result["per_instance_events_per_s"] = round(result["events_per_s"] / instances)
    shares = ", ".join(f"{i['instance']} {i.get('inputs', 0):,} inputs in "
                       f"{i.get('transactions', 0):,} transactions" for i in per_instance)
    print(f"  processor x{instances}: {events:,} events, {span['records']:,} outputs, "
          f"{result['events_per_s']:,} events/s over {result['span_seconds']} s "
          f"(wall {wall:.1f} s incl. start-up, bootstrap and {idle} s idle; {cpu:.1f} CPU s "
          f"in all; load {load_before[0]} before); {shares}", flush=True)
    return result


def run_passthrough(bootstrap: str, inputs: str, batch: int, idle: float,
                    events: int) -> dict[str, Any]:
    app = f"bench-pass-{uuid.uuid4().hex[:8]}"
    output = f"{app}.copy"
    env = topic_env(bootstrap, inputs, app)
    env["AOR_ASSIGNMENTS_TOPIC"] = output
    cli(["topics", "create"], env)
    started = time.perf_counter()
    copied = run_json([PYTHON, "-m", "bench.passthrough", "--bootstrap-servers", bootstrap,
                       "--group", app, "--topics", env["AOR_ENROLLMENTS_TOPIC"],
                       env["AOR_PLAN_CHANGES_TOPIC"], "--output", output, "--batch-size",
                       str(batch), "--until-idle", str(idle)])
    wall = time.perf_counter() - started
    span = topic_span(bootstrap, [output])
    result = {"wall_seconds": round(wall, 2), "outputs": span["records"], **copied,
              **rate(events, span)}
    print(f"  passthrough: {span['records']:,} records copied, {result['events_per_s']:,} "
          f"events/s over {result['span_seconds']} s (wall {wall:.1f} s)", flush=True)
    return result


PEER_PYTHON = ROOT / ".cache" / "bench-peer" / "bin" / "python"


def run_peer(bootstrap: str, inputs: str, batch: int, events: int) -> dict[str, Any]:
    """The Quix Streams peer (bench/peers/quix_peer.py) in its own virtualenv."""
    if not PEER_PYTHON.exists():
        print("  peer: skipped (no .cache/bench-peer virtualenv; see BENCHMARKS.md)")
        return {"skipped": "no .cache/bench-peer virtualenv"}
    output = f"bench-peer-{uuid.uuid4().hex[:8]}.assignments"
    started = time.perf_counter()
    run_json([str(PEER_PYTHON), str(ROOT / "bench" / "peers" / "quix_peer.py"),
              "--bootstrap-servers", bootstrap, "--inputs", inputs, "--output", output,
              "--schemas", str(ROOT / "schemas"), "--count", str(events),
              "--commit-every", str(batch)])
    wall = time.perf_counter() - started
    span = topic_span(bootstrap, [output])
    result = {"wall_seconds": round(wall, 2), "outputs": span["records"], **rate(events, span)}
    print(f"  quix peer: {span['records']:,} outputs, {result['events_per_s']:,} events/s "
          f"over {result['span_seconds']} s (wall {wall:.1f} s)", flush=True)
    return result


def time_restore(bootstrap: str, app: str) -> dict[str, Any]:
    from processor.runtime.restore import restore_partition

    topic = f"{app}.member-state.changelog"
    c = consumer(bootstrap, **{"fetch.wait.max.ms": 10})
    partitions = sorted(c.list_topics(topic, timeout=30).topics[topic].partitions)
    started = time.perf_counter()
    members = 0
    for p in partitions:
        restored, _ = restore_partition(c, topic, p)
        members += len(restored)
    seconds = time.perf_counter() - started
    c.close()
    print(f"  restore: {members:,} members from {len(partitions)} changelog partitions in "
          f"{seconds:.2f} s = {members / seconds:,.0f} members/s", flush=True)
    return {"members": members, "partitions": len(partitions), "seconds": round(seconds, 2),
            "members_per_s": round(members / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000,
                        help="members of the generated history (default 10,000; cached in "
                             ".cache/bench/histories)")
    parser.add_argument("--agents", type=int, help="agents of the history (default: members / 10)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--partitions", type=int, default=6,
                        help="partitions of the input topics (default 6)")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="inputs per transaction at most, for the processor and the "
                             "passthrough (default 500)")
    parser.add_argument("--until-idle", type=float, default=3.0, metavar="SECONDS",
                        help="each run stops after this long with nothing to do (default 3; "
                             "at least 10 with several instances)")
    parser.add_argument("--instances", type=int, action="append",
                        help="processor runs with this many instances (repeat, e.g. "
                             "--instances 1 --instances 2; default 1)")
    parser.add_argument("--no-passthrough", action="store_true", help="skip the passthrough")
    parser.add_argument("--no-restore", action="store_true",
                        help="skip the timed changelog restore")
    parser.add_argument("--no-peer", action="store_true", help="skip the Quix Streams peer")
    parser.add_argument("--name", default="kafka_e2e",
                        help="results go to bench/results/NAME.json (default kafka_e2e)")
    args = parser.parse_args()
    from processor.devkafka.provider import bootstrap_servers

    agents = args.agents or max(10, args.members // 10)
    folder = ensure_history(args.members, agents, args.seed, 0.005, ("jsonl",))["jsonl"]
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp, \
            bootstrap_servers(Path(tmp) / "kafka") as bootstrap:
        inputs = f"bench-in-{uuid.uuid4().hex[:8]}"
        env = topic_env(bootstrap, inputs, "bench-setup")
        cli(["topics", "create", "--partitions", str(args.partitions)], env)
        started = time.perf_counter()
        cli(["load", "--input", str(folder), "--no-progress"], env)
        print(f"{args.members:,} members loaded in {time.perf_counter() - started:.1f} s",
              flush=True)
        events = input_count(bootstrap, inputs)
        runs = [run_processor(bootstrap, inputs, n, args.batch_size, args.until_idle, events)
                for n in (args.instances or [1])]
        for run in runs[1:]:
            # Every run decides the same inputs: the same outputs, or a run was incomplete
            # (as with static membership and --until-idle, BENCHMARKS.md).
            run["outputs_match_first_run"] = run["outputs"] == runs[0]["outputs"]
            run["events_per_s_vs_first_run"] = round(
                run["events_per_s"] / max(runs[0]["events_per_s"], 1), 2)
            print(f"  x{run['instances']} vs x{runs[0]['instances']}: "
                  f"{run['events_per_s_vs_first_run']}x the events/s, outputs "
                  f"{'match' if run['outputs_match_first_run'] else 'DIFFER'}", flush=True)
        passthrough = (None if args.no_passthrough else
                       run_passthrough(bootstrap, inputs, args.batch_size, args.until_idle,
                                       events))
        restore = None if args.no_restore else time_restore(bootstrap, runs[0]["application_id"])
        peer = None if args.no_peer else run_peer(bootstrap, inputs, args.batch_size, events)
    ratio = (round(runs[0]["events_per_s"] / passthrough["events_per_s"], 3)
             if passthrough else None)
    if ratio is not None:
        print(f"processor / passthrough = {ratio}")
    write_results(args.name, {
        "members": args.members, "agents": agents, "partitions": args.partitions,
        "batch_size": args.batch_size, "events": events, "processor": runs,
        "passthrough": passthrough, "ratio_processor_to_passthrough": ratio,
        "restore": restore, "quix_peer": peer, "history": str(folder.relative_to(ROOT)),
        # On a broker given by KAFKA_BOOTSTRAP_SERVERS the topics stay: a profile can reuse them.
        "input_topics_prefix": inputs})


if __name__ == "__main__":
    main()
