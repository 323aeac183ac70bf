"""Drive the CLI against the session broker the way an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from processor.config import Settings, load_settings

TOPIC_SETTINGS = {
    "AOR_ENROLLMENTS_TOPIC": "enrollments",
    "AOR_PLAN_CHANGES_TOPIC": "plan-changes",
    "AOR_AGENT_STATUS_TOPIC": "agent-status",
    "AOR_ASSIGNMENTS_TOPIC": "assignments",
    "AOR_ADJUSTMENTS_TOPIC": "commission-adjustments",
    "AOR_DEAD_LETTERS_TOPIC": "dead-letters",
}


@dataclass
class Deployment:
    """One application (topics, group, changelog) on the shared broker."""

    bootstrap: str
    name: str = field(default_factory=lambda: f"it-{uuid.uuid4().hex[:10]}")
    partitions: int = 3
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. AOR_KAFKA_EXTRA

    def topic(self, stem: str) -> str:
        """A topic of this deployment by its stem (``enrollments``, ``dead-letters``,
        ``member-state.changelog``, ...)."""
        return f"{self.name}.{stem}"

    def settings(self, **overrides: Any) -> Settings:
        """The settings `run` would see, for a KafkaProcessor built in-process."""
        names = {key.removeprefix("AOR_").lower(): self.topic(stem)
                 for key, stem in TOPIC_SETTINGS.items()}
        given: dict[str, Any] = {
            **names, "bootstrap_servers": self.bootstrap, "application_id": self.name,
            "partitions": self.partitions, "metrics_port": 0, "session_timeout_ms": 6000}
        return load_settings(**{**given, **overrides})

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AOR_")}
        env.update({key: f"{self.name}.{stem}" for key, stem in TOPIC_SETTINGS.items()})
        env.update({
            "AOR_BOOTSTRAP_SERVERS": self.bootstrap,
            "AOR_APPLICATION_ID": self.name,
            "AOR_PARTITIONS": str(self.partitions),
            "AOR_METRICS_PORT": "0",
            "AOR_SESSION_TIMEOUT_MS": "6000",
            "COLUMNS": "120",
        })
        env.update(self.extra_env)
        return env

    def cli(self, *args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "processor", *map(str, args)],
                              check=False, capture_output=True, text=True, env=self.env,
                              timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"aor-processor {' '.join(map(str, args))} exited "
                                 f"{done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def start(self, *args: str, instance: str = "i1", log: Path | None = None
              ) -> subprocess.Popen[bytes]:
        out = log.open("ab") if log is not None else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, "-m", "processor", "--log-level", "INFO", "run",
             "--instance-id", instance, *args],
            env=self.env, stdout=out, stderr=out)

    def setup(self, history: Path) -> dict[str, Any]:
        self.cli("topics", "create")
        self.cli("load", "--input", history)
        manifest: dict[str, Any] = json.loads((history / "manifest.json").read_text())
        return manifest

    def dump(self, folder: Path) -> Path:
        self.cli("dump", "--output", folder)
        return folder


def generate(folder: Path, members: int, seed: int = 5, malformed: float = 0.0) -> Path:
    args = ["generate", "--members", str(members), "--agents", str(max(20, members // 8)),
            "--seed", str(seed), "--output", str(folder)]
    if malformed:
        args += ["--malformed-rate", str(malformed)]
    subprocess.run([sys.executable, "-m", "processor", *args], check=True,
                   capture_output=True)
    return folder


def replay(history: Path, output: Path) -> Path:
    subprocess.run([sys.executable, "-m", "processor", "replay", "--input", str(history),
                    "--output", str(output), "--quiet"], check=True, capture_output=True)
    return output


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def per_member(path: Path) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in lines(path):
        grouped[record["member_id"]].append(record)
    return dict(grouped)


def assert_same_outputs(dumped: Path, replayed: Path) -> None:
    """Same records per topic, same order per member (contract.md)."""
    for name in ("assignments", "commission-adjustments"):
        got = per_member(dumped / f"{name}.jsonl")
        want = per_member(replayed / f"{name}.jsonl")
        assert want, f"the replay wrote no {name}"
        differing = sorted(m for m in set(got) | set(want) if got.get(m) != want.get(m))
        assert not differing, (f"{name}: {len(differing)} members differ, e.g. "
                               f"{differing[0]}: {got.get(differing[0])} != "
                               f"{want.get(differing[0])}")


def original_decisions(dumped: Path) -> Counter[str]:
    return Counter(a["source_event_id"] for a in lines(dumped / "assignments.jsonl")
                   if a["revision"] == 0)


def net_amounts(folder: Path) -> dict[str, str]:
    from decimal import Decimal
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for adj in lines(folder / "commission-adjustments.jsonl"):
        if adj["amount"] is not None:
            totals[adj["member_id"]] += Decimal(adj["amount"])
    return {m: str(v) for m, v in sorted(totals.items())}


def final_aor(folder: Path) -> dict[str, str | None]:
    """AOR after the member's last event, per the latest revision of each decision."""
    latest: dict[str, dict[str, Any]] = {}
    for a in lines(folder / "assignments.jsonl"):
        latest[a["source_event_id"]] = a
    by_member: dict[str, tuple[tuple[str, str], str | None]] = {}
    for a in latest.values():
        key = (a["occurred_at"], a["source_event_id"])
        if a["member_id"] not in by_member or key > by_member[a["member_id"]][0]:
            by_member[a["member_id"]] = (key, a["agent_of_record_id"])
    return {m: v[1] for m, v in sorted(by_member.items())}


def wait_for(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s: {message}")


def terminate(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout)


def log_events(log: Path) -> list[dict[str, Any]]:
    """The structlog JSON lines of a log file (the console summary is skipped)."""
    found: list[dict[str, Any]] = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


@dataclass(frozen=True)
class RawRecord:
    """A record produced byte for byte, e.g. a poison one."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes]] | None = None
    timestamp_ms: int | None = None
    partition: int | None = None  # None: where the partitioner puts the key


def produce_raw(bootstrap: str, records: list[RawRecord], flush_s: float = 30,
                **config: Any) -> list[tuple[int, int]]:
    """Produce with a plain (idempotent) producer partitioning as Java's default does (as
    the project's producers and the input check expect), and `config` (librdkafka
    properties); each record's (partition, offset)."""
    client = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                       "partitioner": "murmur2_random", **config})
    placed: list[tuple[int, int]] = [(-1, -1)] * len(records)
    errors: list[str] = []
    for i, record in enumerate(records):
        def delivered(error: KafkaError | None, message: Message, i: int = i) -> None:
            if error is not None:
                errors.append(str(error))
                return
            placed[i] = (message.partition() or 0, message.offset() or 0)
        kwargs: dict[str, Any] = {"value": record.value, "key": record.key,
                                  "on_delivery": delivered}
        if record.headers is not None:
            kwargs["headers"] = list(record.headers)
        if record.timestamp_ms is not None:
            kwargs["timestamp"] = record.timestamp_ms
        if record.partition is not None:
            kwargs["partition"] = record.partition
        client.produce(record.topic, **kwargs)
    assert client.flush(flush_s) == 0, f"records still undelivered after {flush_s} s"
    assert not errors, errors
    return placed


def read_to_end(bootstrap: str, topics: list[str], isolation: str = "read_committed",
                timeout: float = 30, prefix: str = "read") -> Iterator[Message]:
    """Every record of ``topics`` a fresh consumer with this isolation level reads from
    the start to the end of every partition (control records never come)."""
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-{uuid.uuid4().hex}",
                       "enable.auto.commit": False, "isolation.level": isolation,
                       "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    try:
        metadata = client.list_topics(timeout=30)
        assignment = [TopicPartition(t, p, 0) for t in topics
                      for p in sorted(metadata.topics[t].partitions)]
        open_partitions = {(tp.topic, tp.partition) for tp in assignment}
        client.assign(assignment)
        deadline = time.monotonic() + timeout
        while open_partitions:
            assert time.monotonic() < deadline, f"not at the end of {sorted(open_partitions)}"
            for message in client.consume(5000, 0.2):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        open_partitions.discard((message.topic() or "", message.partition() or 0))
                        continue
                    raise KafkaException(error)
                yield message
    finally:
        client.close()


def count_records(bootstrap: str, topics: list[str], isolation: str = "read_committed",
                  timeout: float = 30) -> dict[str, int]:
    """How many records of each topic ``read_to_end`` reads."""
    counts = dict.fromkeys(topics, 0)
    for message in read_to_end(bootstrap, topics, isolation, timeout, prefix="count"):
        counts[message.topic() or ""] += 1
    return counts


def end_offsets(bootstrap: str, topics: list[str], isolation: str = "read_uncommitted",
                timeout: float = 30) -> dict[tuple[str, int], int]:
    """End offset of every partition of ``topics``: the high watermark, or under
    read_committed the last stable offset (where the first open transaction begins)."""
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex}",
                       "enable.auto.commit": False, "isolation.level": isolation})
    try:
        metadata = client.list_topics(timeout=timeout)
        return {(t, p): client.get_watermark_offsets(TopicPartition(t, p), timeout=timeout,
                                                     cached=False)[1]
                for t in topics for p in sorted(metadata.topics[t].partitions)}
    finally:
        client.close()


def open_transactions(bootstrap: str, topics: list[str]) -> list[tuple[str, int]]:
    """Partitions whose last stable offset is behind the high watermark: a transaction
    is open there, or its commit/abort markers are not written yet."""
    stable = end_offsets(bootstrap, topics, "read_committed")
    high = end_offsets(bootstrap, topics)
    return sorted(tp for tp, end in high.items() if stable[tp] < end)


def committed_offsets(bootstrap: str, group: str, timeout: float = 30
                      ) -> dict[tuple[str, int], int]:
    """The consumer group's committed offsets, as the broker has them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                request_timeout=timeout)
    result = futures[group].result(timeout)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []}


def segments(history: Path, into: Path, count: int) -> tuple[list[Path], list[datetime]]:
    """The history's lines in ``count`` input folders cut at enrollment recorded_at
    quantiles, and the cuts: for loading a history in stretches."""
    def recorded_at(line: str) -> datetime:
        return datetime.fromisoformat(json.loads(line)["recorded_at"])

    enrollments = sorted(recorded_at(line)
                         for line in (history / "enrollments.jsonl").read_text().splitlines())
    cuts = [enrollments[len(enrollments) * i // count] for i in range(1, count)]
    bounds = [datetime.min.replace(tzinfo=UTC), *cuts, datetime.max.replace(tzinfo=UTC)]
    folders = []
    for i in range(count):
        folder = into / f"segment-{i}"
        folder.mkdir(parents=True)
        for name in ("enrollments.jsonl", "plan-changes.jsonl", "agent-status.jsonl"):
            rows = (history / name).read_text().splitlines()
            (folder / name).write_text("".join(
                f"{r}\n" for r in rows if bounds[i] <= recorded_at(r) < bounds[i + 1]))
        folders.append(folder)
    return folders, cuts
