"""Members stay co-partitioned with what Java clients write (issue 12, item 1).

Plan changes come from a real Java producer with the Kafka client's defaults (its default
partitioner: murmur2 of the key), enrollments and agent status from `load`. The outputs
equal the file replay's; a plan change put on another partition on purpose is a
MISPARTITIONED dead letter with its original bytes and decides nothing; every record the
project wrote sits on the partition murmur2 gives its key."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from processor.codec.files import Decoded, read_records
from processor.codec.kinds import RecordKind
from processor.codec.wire import key_of
from processor.config import InputPartitioner
from processor.devkafka.java import find_java
from processor.devkafka.paths import libs_dir
from processor.domain.model import PlanChange
from processor.kafka.load import read_folder, timestamp_ms
from processor.kafka.partitioner import partition_of
from processor.kafka.registry import wire_codec
from tests.contract.contract_samples import T0
from tests.integration.harness import (
    Deployment,
    RawRecord,
    assert_same_outputs,
    generate,
    lines,
    produce_raw,
    read_to_end,
    replay,
)

pytestmark = pytest.mark.kafka

JAVA_PRODUCER = Path(__file__).with_name("java") / "DefaultPartitionerProducer.java"


def java_produce(bootstrap: str, rows: list[str], work: Path) -> None:
    batch = work / "records.tsv"
    batch.write_text("".join(f"{row}\n" for row in rows))
    java = find_java().executable
    done = subprocess.run([str(java), "-cp", f"{libs_dir()}/*", str(JAVA_PRODUCER), bootstrap,
                           str(batch)], capture_output=True, text=True, check=False,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(f"sent {len(rows)}"), done.stdout


def test_plan_changes_from_a_java_producer_decide_as_the_file_replay(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    history = generate(tmp_path / "history", 400, seed=12)
    app = Deployment(kafka_bootstrap, partitions=4)
    app.cli("topics", "create")
    # Enrollments and agent status through `load`; the plan changes through Java.
    loaded = tmp_path / "loaded"
    loaded.mkdir()
    for name in ("enrollments.jsonl", "agent-status.jsonl"):
        shutil.copy(history / name, loaded / name)
    app.cli("load", "--input", loaded)
    wire = wire_codec(app.settings())
    rows = []
    changes = [item.record for item in read_records(history / "plan-changes.jsonl",
                                                    RecordKind.PLAN_CHANGE, T0)
               if isinstance(item, Decoded)]
    assert len(changes) > 300
    for change in changes:
        assert isinstance(change, PlanChange)
        value, headers = wire.encode(change)
        fields = [app.topic("plan-changes"), change.member_id,
                  base64.b64encode(value).decode(), str(timestamp_ms(change.recorded_at))]
        for name, header in headers:
            fields += [name, base64.b64encode(header).decode()]
        rows.append("\t".join(fields))
    java_produce(kafka_bootstrap, rows, tmp_path)

    # One more plan change, of a member the replay knows, on a partition its key is not on.
    stray = changes[0]
    assert isinstance(stray, PlanChange)
    stray = PlanChange(**{**{f: getattr(stray, f) for f in stray.__dataclass_fields__},
                          "event_id": "evt-stray"})
    home = partition_of(stray.member_id.encode(), 4, InputPartitioner.MURMUR2)
    assert home is not None
    value, headers = wire.encode(stray)
    (elsewhere, offset), = produce_raw(kafka_bootstrap, [RawRecord(
        app.topic("plan-changes"), value, key_of(stray), list(headers),
        timestamp_ms(stray.recorded_at), partition=(home + 1) % 4)])

    app.cli("run", "--until-idle", "3", timeout=240)
    dumped = app.dump(tmp_path / "dumped")
    assert_same_outputs(dumped, replay(history, tmp_path / "replayed"))
    assert not [a for a in lines(dumped / "assignments.jsonl")
                if a["source_event_id"] == "evt-stray"]
    letter, = [d for d in lines(dumped / "dead-letters.jsonl")
               if d["error_type"] == "MISPARTITIONED"]
    assert (letter["source"], letter["partition"], letter["offset"]) == (
        app.topic("plan-changes"), elsewhere, offset)
    assert base64.b64decode(letter["value"]) == value
    assert base64.b64decode(letter["key"]) == stray.member_id.encode()
    assert f"belongs on partition {home} of 4 by murmur2" in letter["error_message"]

    # Every keyed record the project wrote sits where murmur2 puts its key (the changelog
    # keeps a member on its input partition by design, which is the same partition here).
    written = [app.topic(t) for t in ("enrollments", "agent-status", "assignments",
                                      "commission-adjustments", "dead-letters")]
    seen = 0
    for msg in read_to_end(kafka_bootstrap, written):
        key = msg.key()
        assert key is not None, msg.topic()
        seen += 1
        assert msg.partition() == partition_of(key, 4, InputPartitioner.MURMUR2), (
            msg.topic(), key)
    assert seen > 1000


def test_topics_loaded_with_crc32_run_under_crc32_and_move_to_murmur2(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """RUNBOOK.md "Producers and partitions": input topics written as `load` did before
    issue 12 (librdkafka's default, CRC-32) decide as the file replay with
    AOR_INPUT_PARTITIONER=crc32; `topics copy` moves them to new topics placed by murmur2,
    and `rewind` builds the new application's changelog from them without deciding again."""
    history = generate(tmp_path / "history", 150, seed=13)
    old = Deployment(kafka_bootstrap, partitions=3, extra_env={"AOR_INPUT_PARTITIONER": "crc32"})
    old.cli("topics", "create")
    wire = wire_codec(old.settings())
    stems = {RecordKind.ENROLLMENT: "enrollments", RecordKind.PLAN_CHANGE: "plan-changes",
             RecordKind.AGENT_STATUS: "agent-status"}
    records = []
    for kind, record in read_folder(history)[0]:
        value, headers = wire.encode(record)
        records.append(RawRecord(old.topic(stems[kind]), value, key_of(record), list(headers),
                                 timestamp_ms(record.recorded_at)))
    produce_raw(kafka_bootstrap, records, partitioner="consistent_random")
    old.cli("run", "--until-idle", "3", "--instance-id", "old", timeout=240)
    decided = old.dump(tmp_path / "old")
    assert_same_outputs(decided, replay(history, tmp_path / "replayed"))
    assert not [d for d in lines(decided / "dead-letters.jsonl")
                if d["error_type"] == "MISPARTITIONED"]
    check = subprocess.run([sys.executable, "-m", "processor", "topics", "check"],
                           env={**old.env, "AOR_INPUT_PARTITIONER": "murmur2"},
                           capture_output=True, text=True, check=False, timeout=120)
    assert check.returncode == 1 and "misrouted under AOR_INPUT_PARTITIONER=murmur2" in (
        check.stdout), check.stdout

    # The move: new input topics and a new application id; the outputs and agent status
    # stay where they are.
    new = Deployment(kafka_bootstrap, partitions=3, extra_env={
        "AOR_AGENT_STATUS_TOPIC": old.topic("agent-status"),
        "AOR_ASSIGNMENTS_TOPIC": old.topic("assignments"),
        "AOR_ADJUSTMENTS_TOPIC": old.topic("commission-adjustments"),
        "AOR_DEAD_LETTERS_TOPIC": old.topic("dead-letters")})
    new.cli("topics", "create")
    for stem in ("enrollments", "plan-changes"):
        copied = new.cli("topics", "copy", "--source", old.topic(stem),
                         "--target", new.topic(stem))
        assert "copied" in copied.stdout
    assert new.cli("topics", "check").returncode == 0
    new.cli("rewind", "--to", "2100-01-01T00:00:00Z")
    # Every member's state, on the partition murmur2 gives its key (the new inputs').
    members = {e["member_id"] for name in ("enrollments.jsonl", "plan-changes.jsonl")
               for e in lines(history / name)}
    states: dict[bytes, int | None] = {}
    for msg in read_to_end(kafka_bootstrap, [new.topic("member-state.changelog")]):
        key = msg.key()
        if key is not None and not key.startswith(b"\x00"):  # not the partition meta
            states[key] = msg.partition()
    assert {k.decode() for k in states} == members
    assert all(p == partition_of(k, 3, InputPartitioner.MURMUR2) for k, p in states.items())
    new.cli("run", "--until-idle", "3", "--instance-id", "new", timeout=240)
    after = new.dump(tmp_path / "new")
    for name in ("assignments.jsonl", "commission-adjustments.jsonl", "dead-letters.jsonl"):
        assert (after / name).read_bytes() == (decided / name).read_bytes(), name
