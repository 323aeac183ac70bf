"""The fault run: a generated history driven through `aor-processor run` on the fault
suite's own broker while faults land at random points of its progress.

Progress is the share of input events the group has committed (its offsets on the
enrollments and plan-changes topics). A seeded plan says at which progress each fault
lands:

- SIGKILL of the running instance ``a``, started again at once (static membership: it
  takes its partitions back without a rebalance; its transactional.id fences the
  killed one's open transaction);
- one broker restart (``LocalKafka.restart()``: controlled shutdown, same ports and data);
- a second instance ``b`` that joins (the group rebalances, partitions move to it with
  their state restored from the changelog) and is stopped with SIGTERM later (after the
  session timeout its partitions move back);
- the agent-status feed paused: the snapshots recorded after an instant are held back
  from the start and published later, so the events after that instant are decided
  without them and corrected when they come.

An instance that exits by itself (the watchdog's exit 3 after librdkafka hung in a
transactional call, a fatal error) is started again, like an orchestrator would, and
counted.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from processor.devkafka.broker import LocalKafka
from tests.integration.harness import Deployment, end_offsets, log_events

BATCH_SIZE = "50"
KILL = "kill"
KILL_IN_CORRECTIONS = "kill-in-corrections"
BROKER_RESTART = "broker-restart"
SECOND_START = "second-instance-start"
SECOND_STOP = "second-instance-stop"
FEED_RESUME = "agent-status-resume"
POLL_S = 0.25
# The second instance is stopped once it has held partitions this long.
SECOND_HOLDS_S = 4.0
SECOND_JOIN_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 90.0
# A group left with unowned partitions this long fails the run.
UNSETTLED_LIMIT_S = 180.0


@dataclass(frozen=True, order=True)
class Fault:
    at: float  # progress at which it lands
    kind: str


def plan_faults(rng: random.Random, kills: int) -> list[Fault]:
    """Where each fault lands. One kill comes a moment after the feed resumes, while the
    held-back snapshots are being applied as corrections; the others anywhere."""
    faults = [Fault(round(rng.uniform(0.04, 0.92), 4), KILL) for _ in range(kills - 1)]
    faults.append(Fault(round(rng.uniform(0.25, 0.7), 4), BROKER_RESTART))
    joins = round(rng.uniform(0.1, 0.4), 4)
    faults.append(Fault(joins, SECOND_START))
    faults.append(Fault(round(joins + rng.uniform(0.12, 0.3), 4), SECOND_STOP))
    resumes = round(rng.uniform(0.5, 0.85), 4)
    faults.append(Fault(resumes, FEED_RESUME))
    faults.append(Fault(resumes, KILL_IN_CORRECTIONS))  # sorts right after the resume
    return sorted(faults)


@dataclass(frozen=True)
class FeedSplit:
    first: Path  # every event, and the snapshots recorded up to `held_after`
    later: Path  # the snapshots recorded after it: published when the feed resumes
    held_after: datetime
    held: int
    snapshots: int


def split_history(history: Path, work: Path, held_share: float) -> FeedSplit:
    """Two input folders: the later one holds the last ``held_share`` of the snapshots
    by recorded_at. Lines that do not parse stay in the first (load skips them)."""
    first, later = work / "first", work / "later"
    first.mkdir(parents=True)
    later.mkdir(parents=True)
    for name in ("enrollments.jsonl", "plan-changes.jsonl"):
        shutil.copy(history / name, first / name)
    stamped: list[tuple[datetime, bytes]] = []
    unparsed: list[bytes] = []  # also lines that are not UTF-8
    for line in (history / "agent-status.jsonl").read_bytes().splitlines(keepends=True):
        try:
            recorded = datetime.fromisoformat(json.loads(line)["recorded_at"])
        except (ValueError, KeyError, TypeError):
            unparsed.append(line)
            continue
        if recorded.tzinfo is None:  # not RFC 3339: load skips it too
            unparsed.append(line)
            continue
        stamped.append((recorded, line))
    moments = sorted(moment for moment, _ in stamped)
    held_after = moments[int(len(moments) * (1 - held_share))]
    early = [line for moment, line in stamped if moment <= held_after]
    late = [line for moment, line in stamped if moment > held_after]
    (first / "agent-status.jsonl").write_bytes(b"".join(unparsed + early))
    (later / "agent-status.jsonl").write_bytes(b"".join(late))
    return FeedSplit(first, later, held_after, len(late), len(stamped))


class Instance:
    """One instance id of the processor; each start gets its own log file."""

    def __init__(self, app: Deployment, name: str, logs: Path) -> None:
        self.app = app
        self.name = name
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None
        self.log_files: list[Path] = []
        self.exits: list[int] = []  # exit codes of starts that ended on their own
        self.started_at = 0.0  # time.monotonic() of the last start

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def log(self) -> Path:
        return self.log_files[-1]

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{self.name}-{len(self.log_files) + 1:02d}.log"
        self.log_files.append(log)
        self.started_at = time.monotonic()
        self.process = self.app.start("--batch-size", BATCH_SIZE, *extra, instance=self.name,
                                      log=log)
        return self.process

    def exited_by_itself(self) -> int | None:
        """The exit code if the current start ended without being told to."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self.exits.append(code)
        self.process = None
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self.process = None

    def terminate(self) -> int:
        """SIGTERM: drain and exit (0 expected)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            code = -9
        self.process = None
        return code

    def holding(self) -> tuple[set[int], float | None]:
        """The partitions the current start holds, and for how many seconds it has held
        some (None when it holds none)."""
        if self.process is None or not self.log_files or not self.log.exists():
            return set(), None
        held: set[int] = set()
        since: str | None = None
        for event in log_events(self.log):
            if event.get("event") == "partitions.assigned" and event["partitions"]:
                held |= set(event["partitions"])
                since = since or event["timestamp"]
            elif event.get("event") == "partitions.revoked":
                held -= set(event["partitions"])
                if not held:
                    since = None
        if not held or since is None:
            return held, None
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        return held, time.time() - moment.timestamp()

    def kill_if_running(self) -> None:
        if self.running:
            self.kill()


@dataclass
class RunRecord:
    """What the run did to the processor, for the figures."""

    faults: list[Fault]
    kills: list[float] = field(default_factory=list)  # progress at each SIGKILL
    broker_restarts: list[float] = field(default_factory=list)  # seconds each took
    broker_restarted_at: list[float] = field(default_factory=list)  # time.time() at each
    # (instance, exit code, seconds into the run) of starts that ended on their own
    unplanned: list[tuple[str, int, float]] = field(default_factory=list)
    second_stop_code: int | None = None
    resumed_at: float | None = None
    final_stop_code: int | None = None
    final_run_code: int | None = None
    seconds: float = 0.0
    log_files: list[Path] = field(default_factory=list)
    landed: list[tuple[str, float, float]] = field(default_factory=list)  # kind, progress, s


class Progress:
    """Share of the input events committed by the group (None while the broker is away).

    Read with a consumer of the group that never joins it (``committed()`` only): the
    AdminClient's list_consumer_group_offsets crashed the test process (SIGSEGV) on a
    broker whose offsets topic did not exist yet."""

    def __init__(self, app: Deployment, total: int) -> None:
        self.total = total
        self.client = Consumer({"bootstrap.servers": app.bootstrap, "group.id": app.name,
                                "enable.auto.commit": False})
        self.partitions = [TopicPartition(app.topic(stem), p) for stem in
                           ("enrollments", "plan-changes") for p in range(app.partitions)]
        self.last = 0.0

    def __call__(self) -> float | None:
        try:
            committed = self.client.committed(self.partitions, timeout=5)
        except KafkaException:
            return None  # the broker is away, or a transaction's offsets are pending
        self.last = sum(max(0, tp.offset) for tp in committed) / self.total
        return self.last

    def close(self) -> None:
        self.client.close()


class FaultRun:
    def __init__(self, kafka: LocalKafka, app: Deployment, split: FeedSplit, work: Path,
                 rng: random.Random, kills: int, deadline_s: float,
                 say: Callable[[str], None] = print) -> None:
        self.kafka = kafka
        self.app = app
        self.split = split
        self.rng = rng
        self.deadline_s = deadline_s
        self.say = say
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.a = Instance(app, "a", logs)
        self.b = Instance(app, "b", logs)
        self.b_wanted = False
        self.record = RunRecord(plan_faults(rng, kills))
        self.began = time.monotonic()
        self.unsettled_since: float | None = None

    def inputs_total(self) -> int:
        ends = end_offsets(self.app.bootstrap,
                           [self.app.topic("enrollments"), self.app.topic("plan-changes")])
        return sum(ends.values())

    def run(self) -> RunRecord:
        began = self.began = time.monotonic()
        progress = Progress(self.app, self.inputs_total())
        pending = list(self.record.faults)
        self.a.start()
        try:
            while True:
                elapsed = time.monotonic() - began
                if elapsed > self.deadline_s:
                    raise AssertionError(
                        f"the fault run passed its deadline of {self.deadline_s:.0f} s at "
                        f"progress {progress.last:.3f} with {pending} still to land")
                self._restart_exited()
                share = progress()
                if share is not None and not pending and share >= 1.0:
                    break
                if pending and share is not None and share >= pending[0].at \
                        and self._ready(pending[0]):
                    fault = pending.pop(0)
                    self._land(fault, share)
                    self.record.landed.append((fault.kind, round(share, 4), round(elapsed, 1)))
                time.sleep(POLL_S)
            # Everything was committed once: stop (once the instance is up and holds
            # its partitions, so that SIGTERM meets its handler), then finish what the
            # resumed feed brought (snapshot corrections) with a start that exits when
            # idle.
            while True:
                self._restart_exited()
                if self._settled():
                    break
                time.sleep(POLL_S)
            self.record.final_stop_code = self.a.terminate()
            final = self.a.start("--until-idle", "5")
            try:
                self.record.final_run_code = final.wait(self.deadline_s)
            except subprocess.TimeoutExpired:
                self.a.kill()
                self.record.final_run_code = -9
            self.a.process = None
        finally:
            self.a.kill_if_running()
            self.b.kill_if_running()
            progress.close()
            self.record.seconds = time.monotonic() - began
            self.record.log_files = self.a.log_files + self.b.log_files
        return self.record

    # -- faults ------------------------------------------------------------------------

    def _ready(self, fault: Fault) -> bool:
        if fault.kind == FEED_RESUME:
            return True
        if fault.kind == SECOND_STOP:
            _, held = self.b.holding()
            if held is not None and held >= SECOND_HOLDS_S:
                return True
            # Never given partitions: stop it anyway; the test then fails on that.
            return time.monotonic() - self.b.started_at > SECOND_JOIN_TIMEOUT_S
        # Kills, the broker restart and the second instance's start land on a settled
        # group: every partition held by a running instance. A static member restarted
        # in the middle of a cooperative rebalance can leave the partitions being moved
        # unassigned until the next membership change (RELIABILITY.md); that is not
        # what this suite measures.
        return self._settled()

    def _settled(self) -> bool:
        """Every partition held, and every running instance holding some (a second
        instance that has not been given its share yet is a rebalance to come)."""
        held = [self.a.holding()[0]] + ([self.b.holding()[0]] if self.b.running else [])
        missing = set(range(self.app.partitions)) - set().union(*held)
        joining = not all(held) and time.monotonic() - self.b.started_at < SECOND_JOIN_TIMEOUT_S
        now = time.monotonic()
        if not missing and not joining:
            self.unsettled_since = None
            return True
        if self.unsettled_since is None:
            self.unsettled_since = now
        elif now - self.unsettled_since > UNSETTLED_LIMIT_S:
            raise AssertionError(f"partitions {sorted(missing)} held by no instance for "
                                 f"{UNSETTLED_LIMIT_S:.0f} s")
        return False

    def _land(self, fault: Fault, share: float) -> None:
        self.say(f"faults: {fault.kind} at progress {share:.3f}")
        if fault.kind in (KILL, KILL_IN_CORRECTIONS):
            pause = (0.0, 0.5) if fault.kind == KILL else (0.5, 3.0)
            time.sleep(self.rng.uniform(*pause))  # anywhere in the loop's turn
            self._restart_exited()
            if self.a.running:
                self.a.kill()
                self.record.kills.append(share)
            self.a.start()
        elif fault.kind == BROKER_RESTART:
            began = time.monotonic()
            self.record.broker_restarted_at.append(time.time())
            self.kafka.restart()
            self.record.broker_restarts.append(round(time.monotonic() - began, 1))
        elif fault.kind == SECOND_START:
            self.b_wanted = True
            self.b.start()
        elif fault.kind == SECOND_STOP:
            self.b_wanted = False
            if self.b.running:
                self.record.second_stop_code = self.b.terminate()
        elif fault.kind == FEED_RESUME:
            self.app.cli("load", "--input", self.split.later)
            self.record.resumed_at = share
        else:
            raise ValueError(fault.kind)

    def _restart_exited(self) -> None:
        """An instance that ended on its own is started again, as an orchestrator would."""
        for instance, wanted in ((self.a, True), (self.b, self.b_wanted)):
            code = instance.exited_by_itself()
            if code is not None:
                self.record.unplanned.append(
                    (instance.name, code, round(time.monotonic() - self.began, 1)))
                self.say(f"faults: instance {instance.name} exited {code} on its own")
                if wanted:
                    instance.start()


def log_counts(files: list[Path]) -> dict[str, Any]:
    """Rebalance callbacks, aborts and watchdog exits in the instances' logs."""
    assigned = revoked = aborted = 0
    stalled: list[float] = []  # time.time() of each watchdog exit
    held_by: dict[str, set[int]] = {}
    for log in files:
        instance = log.name.split("-")[0]
        for event in log_events(log):
            kind = event.get("event")
            if kind == "partitions.assigned" and event["partitions"]:
                assigned += 1
                held_by.setdefault(instance, set()).update(event["partitions"])
            elif kind == "partitions.revoked" and event["partitions"]:
                revoked += 1
            elif kind == "transaction.aborted":
                aborted += 1
            elif kind == "kafka.call_stalled":
                stalled.append(datetime.fromisoformat(
                    event["timestamp"].replace("Z", "+00:00")).timestamp())
    return {"assigned": assigned, "revoked": revoked, "aborted": aborted,
            "stalled": stalled, "held_by": {k: sorted(v) for k, v in held_by.items()}}
