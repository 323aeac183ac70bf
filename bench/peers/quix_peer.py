"""A Quix Streams peer of `aor-processor run`, for bench.kafka_e2e (not a project module).

Runs in its own virtualenv (Quix Streams pins an older confluent-kafka than the project):

    python -m venv .cache/bench-peer
    .cache/bench-peer/bin/pip install quixstreams fastavro
    .cache/bench-peer/bin/python bench/peers/quix_peer.py --bootstrap-servers ... \\
        --inputs PREFIX --output TOPIC --schemas schemas --count N

Exactly-once (`processing_guarantee="exactly-once"`), a transaction every --commit-every
records, like the processor's batches. Per event it does the work the processor's hot
path does, in the simplest form: decode the Avro payload (fastavro), look the writing or
facilitating agent and the member's current agent of record up in an agent table read from
the agent-status topic at start (bitemporally: in force at occurred_at, recorded by
recorded_at), check the five eligibility rules, keep the member's AOR, plan and event ids in
Quix's RocksDB state, and encode an AorAssignment with its eligibility trace (fastavro). It
does not apply the policy tables, commissions or corrections: it is a floor, not an equal.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from quixstreams import Application, State


def load(schemas: Path, name: str) -> Any:
    return parse_schema(json.loads((schemas / f"{name}.avsc").read_text()))


def agent_table(bootstrap: str, topic: str, schema: Any) -> dict[str, list[dict[str, Any]]]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"peer-{uuid.uuid4().hex}",
                  "enable.partition.eof": True, "isolation.level": "read_committed"})
    parts = c.list_topics(topic, timeout=30).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    pending = set(parts)
    table: dict[str, list[dict[str, Any]]] = {}
    while pending:
        for msg in c.consume(10000, 1.0):
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                continue
            s = schemaless_reader(io.BytesIO(msg.value()), schema, None)
            table.setdefault(s["agent_id"], []).append(s)
    c.close()
    for rows in table.values():
        rows.sort(key=lambda s: (s["effective_at"], s["recorded_at"], s["snapshot_id"]))
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--inputs", required=True, help="input topic prefix")
    parser.add_argument("--output", required=True)
    parser.add_argument("--schemas", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True, help="events to process")
    parser.add_argument("--commit-every", type=int, default=500)
    parser.add_argument("--state-dir", default=f"/tmp/quix-peer-{uuid.uuid4().hex[:8]}")
    args = parser.parse_args()
    enrollment = load(args.schemas, "Enrollment")
    plan_change = load(args.schemas, "PlanChange")
    assignment = load(args.schemas, "AorAssignment")
    table = agent_table(args.bootstrap_servers, f"{args.inputs}.agent-status",
                        load(args.schemas, "AgentStatusSnapshot"))

    def in_force(agent_id: str | None, event: dict[str, Any]) -> dict[str, Any] | None:
        for s in reversed(table.get(agent_id or "", ())):
            if s["effective_at"] <= event["occurred_at"] and \
                    s["recorded_at"] <= event["recorded_at"]:
                return s
        return None

    def checks(agent_id: str | None, event: dict[str, Any], plan: dict[str, Any]
               ) -> list[dict[str, Any]]:
        s = in_force(agent_id, event)
        sid = s["snapshot_id"] if s else None
        state = event["member_state"]
        found = s is not None
        return [
            {"rule": "SNAPSHOT_FOUND", "agent_id": agent_id, "passed": found,
             "snapshot_id": sid, "detail": f"snapshot {sid}"},
            {"rule": "ACTIVE", "agent_id": agent_id, "passed": found and s["status"] == "ACTIVE",
             "snapshot_id": sid, "detail": f"status {s['status'] if s else None}"},
            {"rule": "LICENSED", "agent_id": agent_id,
             "passed": found and state in s["licensed_states"], "snapshot_id": sid,
             "detail": f"{state} in licensed_states {s['licensed_states'] if s else []}"},
            {"rule": "APPOINTED", "agent_id": agent_id,
             "passed": found and state in s["appointed_states"], "snapshot_id": sid,
             "detail": f"{state} in appointed_states {s['appointed_states'] if s else []}"},
            {"rule": "CERTIFIED", "agent_id": agent_id,
             "passed": found and plan["plan_year"] in s["certified_plan_years"],
             "snapshot_id": sid, "detail": f"plan year {plan['plan_year']}"},
        ]

    def decide(value: bytes, state: State, schema: Any, kind: str) -> bytes:
        event = schemaless_reader(io.BytesIO(value), schema, None)
        plan = event["plan"] if kind == "ENROLLMENT" else event["to_plan"]
        agent = event.get("writing_agent_id") or event.get("facilitating_agent_id")
        previous = state.get("aor")
        trace = checks(agent, event, plan)
        if previous is not None:
            trace += checks(previous, event, plan)
        eligible = all(c["passed"] for c in trace[:5])
        aor = agent if eligible else previous
        seen = state.get("events", [])
        seen.append(event["event_id"])
        state.set("events", seen)
        state.set("aor", aor)
        state.set("plan", plan["plan_id"])
        out = {
            "decision_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, event["event_id"])),
            "revision": 0, "supersedes_decision_id": None,
            "source_event_id": event["event_id"], "source_event_type": kind,
            "member_id": event["member_id"], "member_state": event["member_state"],
            "plan": plan, "effective_date": event["effective_date"],
            "occurred_at": event["occurred_at"], "decided_as_of": event["recorded_at"],
            "outcome": "ASSIGNED" if aor else "HOUSE", "reason": "NEW_ENROLLMENT",
            "previous_agent_id": previous, "agent_of_record_id": aor,
            "facilitating_agent_id": agent, "channel": event.get("channel"),
            "requires_review": False, "rule_trace": trace, "policy_version": "peer",
        }
        buffer = io.BytesIO()
        schemaless_writer(buffer, assignment, out)
        return buffer.getvalue()

    app = Application(broker_address=args.bootstrap_servers,
                      consumer_group=f"quix-peer-{uuid.uuid4().hex[:8]}",
                      processing_guarantee="exactly-once", auto_offset_reset="earliest",
                      commit_every=args.commit_every, commit_interval=5.0,
                      state_dir=args.state_dir, use_changelog_topics=True)
    output = app.topic(args.output, value_serializer="bytes", key_serializer="bytes")

    for suffix, schema, kind in (("enrollments", enrollment, "ENROLLMENT"),
                                 ("plan-changes", plan_change, "PLAN_CHANGE")):
        topic = app.topic(f"{args.inputs}.{suffix}", value_deserializer="bytes",
                          key_deserializer="bytes")
        sdf = app.dataframe(topic)
        sdf = sdf.apply(lambda v, state, s=schema, k=kind: decide(v, state, s, k),
                        stateful=True)
        # Output records carry the time they were made (Quix would keep the input's
        # timestamp, a recorded_at years ago): the benchmark measures the output span.
        sdf = sdf.set_timestamp(lambda _v, _k, _ts, _h: int(time.time() * 1000))
        sdf.to_topic(output)

    started = time.perf_counter()
    app.run(count=args.count, timeout=30.0, collect=False)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
