"""The background broker of ``aor-processor dev-kafka``: start it detached, remember it in a
state file, report on it and stop it from later commands."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from processor.devkafka.broker import DEFAULT_START_TIMEOUT, DEFAULT_STOP_GRACE, LocalKafka
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.net import port_open, split_address
from processor.devkafka.paths import dev_kafka_dir
from processor.devkafka.process import is_broker, terminate_pid
from processor.devkafka.readiness import metadata_ok
from processor.devkafka.versions import KAFKA_VERSION


@dataclass(frozen=True)
class DevKafkaState:
    """What the state file records about a running background broker."""

    pid: int
    bootstrap_servers: str
    data_dir: str
    properties_file: str
    log_file: str
    kafka_version: str
    started_at: str


@dataclass(frozen=True)
class DevKafkaStatus:
    state: DevKafkaState | None
    running: bool
    reachable: bool


def state_file() -> Path:
    """``<cache root>/dev-kafka/state.json``."""
    return dev_kafka_dir() / "state.json"


def default_data_dir() -> Path:
    """``<cache root>/dev-kafka/data``: kept across stop and start (``--fresh`` wipes it)."""
    return dev_kafka_dir() / "data"


def read_state(path: Path) -> DevKafkaState | None:
    """The recorded broker, or None if there is no (readable) state file."""
    try:
        return DevKafkaState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_state(path: Path, state: DevKafkaState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _alive(state: DevKafkaState) -> bool:
    return is_broker(state.pid, Path(state.properties_file))


def previous_port(properties_file: Path) -> int | None:
    """The PLAINTEXT port of an earlier run on this data folder, if it is free now, so the
    address stays the same across stop and start."""
    try:
        lines = properties_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "advertised.listeners" and "://" in value:
            host, port = split_address(value.split("://", 1)[1])
            return None if port_open(host, port) else port
    return None


def status(path: Path | None = None) -> DevKafkaStatus:
    """Is the recorded broker running, and does it answer a metadata request?"""
    state = read_state(path or state_file())
    if state is None:
        return DevKafkaStatus(None, running=False, reachable=False)
    running = _alive(state)
    reachable = running and metadata_ok(state.bootstrap_servers, timeout=5.0)
    return DevKafkaStatus(state, running, reachable)


def start(data_dir: Path | None = None, *, port: int | None = None,
          timeout: float = DEFAULT_START_TIMEOUT, fresh: bool = False,
          path: Path | None = None) -> tuple[DevKafkaState, bool]:
    """Start the background broker and wait until it is ready; (state, started). If one is
    already running, returns it with started False (``fresh`` then refuses)."""
    path = path or state_file()
    current = read_state(path)
    if current is not None and _alive(current):
        if fresh:
            raise DevKafkaError(f"a dev broker is running at {current.bootstrap_servers} "
                                f"(pid {current.pid}); stop it before --fresh")
        return current, False
    path.unlink(missing_ok=True)
    data_dir = (data_dir or default_data_dir()).expanduser().resolve()
    if fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
    if port is None:
        port = previous_port(data_dir / "server.properties")
    kafka = LocalKafka(data_dir, port=port, start_timeout=timeout, detached=True)
    kafka.start()
    assert kafka.pid is not None
    state = DevKafkaState(
        pid=kafka.pid, bootstrap_servers=kafka.bootstrap_servers, data_dir=str(data_dir),
        properties_file=str(kafka.properties_file), log_file=str(kafka.log_file),
        kafka_version=KAFKA_VERSION,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    write_state(path, state)
    return state, True


def stop(*, grace: float = DEFAULT_STOP_GRACE,
         path: Path | None = None) -> tuple[DevKafkaState | None, bool]:
    """Stop the recorded broker (SIGTERM, SIGKILL after ``grace`` seconds) and forget it;
    (state or None, whether it had to be killed). Stopping nothing is not an error."""
    path = path or state_file()
    state = read_state(path)
    killed = False
    if state is not None and _alive(state):
        killed = terminate_pid(state.pid, grace)
    path.unlink(missing_ok=True)
    return state, killed
