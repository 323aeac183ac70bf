"""``LocalKafka``: a real single-node KRaft broker (broker and controller in one JVM)
started from the Maven jars as a Java subprocess."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from processor.devkafka.config import (
    LOG4J2_PROPERTIES,
    LOOPBACK,
    broker_properties,
    new_cluster_id,
    render_properties,
)
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.jars import class_path, ensure_jars
from processor.devkafka.java import JavaRuntime, find_java
from processor.devkafka.lifecycle import StartStop
from processor.devkafka.net import free_port
from processor.devkafka.process import parent_death_prefix, terminate_child
from processor.devkafka.readiness import wait_until_ready

DEFAULT_START_TIMEOUT = 60.0
DEFAULT_STOP_GRACE = 30.0
HEAP_OPTIONS = ("-Xms256m", "-Xmx1g")
JVM_OPTIONS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")
FORMAT_TIMEOUT = 120.0
LOG_TAIL_LINES = 40
RUN_HEADER = "==== processor.devkafka:"
PORT_ATTEMPTS = 3
ADDRESS_IN_USE = "Address already in use"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def log_errors(path: Path, limit: int = 8) -> list[str]:
    """The first ``limit`` ERROR or FATAL lines of the last run in a broker log, each with
    the line after it (usually the exception), for error messages."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    starts = [i for i, line in enumerate(lines) if line.startswith(RUN_HEADER)]
    lines = lines[starts[-1] if starts else 0:]
    found: list[str] = []
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            found.append(line if i + 1 >= len(lines) else f"{line}\n    {lines[i + 1]}")
            if len(found) >= limit:
                break
    return found


class LocalKafka(StartStop):
    """A single-node Kafka broker on 127.0.0.1 whose data lives in ``data_dir``.

    Ports are picked at the first ``start()`` (unless given) and kept by ``restart()``, so
    clients can reconnect to the same address. Without ``data_dir`` a temporary folder is
    used and removed by ``stop()``. With ``detached=True`` the broker runs in its own
    session and outlives this Python process (the ``dev-kafka`` command); otherwise it gets
    SIGTERM if this process dies.

    >>> with LocalKafka(Path("/tmp/k")) as kafka:   # doctest: +SKIP
    ...     produce_to(kafka.bootstrap_servers)
    """

    def __init__(self, data_dir: Path | None = None, *, port: int | None = None,
                 controller_port: int | None = None, libs: Path | None = None,
                 java: JavaRuntime | None = None,
                 start_timeout: float = DEFAULT_START_TIMEOUT,
                 stop_grace: float = DEFAULT_STOP_GRACE,
                 extra_properties: Mapping[str, str] | None = None,
                 jvm_options: Sequence[str] = (*HEAP_OPTIONS, *JVM_OPTIONS),
                 detached: bool = False) -> None:
        self._data_dir = data_dir
        self._owns_data = data_dir is None
        self._port = port
        self._controller_port = controller_port
        self._given_ports = (port, controller_port)
        self._libs = libs
        self._java = java
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self._extra = dict(extra_properties or {})
        self._jvm_options = tuple(jvm_options)
        self._detached = detached
        self._process: subprocess.Popen[bytes] | None = None
        #: Seconds from launching the JVM to the first successful metadata request.
        self.last_start_seconds: float | None = None

    # -- where things are -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise DevKafkaError("the broker has no data folder until it is started")
        return self._data_dir

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        """The broker's stdout and stderr (appended across restarts)."""
        return self.data_dir / "broker.log"

    @property
    def log_dir(self) -> Path:
        """Kafka's ``log.dirs``: the metadata log and the topic partitions."""
        return self.data_dir / "kraft-logs"

    @property
    def bootstrap_servers(self) -> str:
        if self._port is None:
            raise DevKafkaError("the broker has no address until it is started")
        return f"{LOOPBACK}:{self._port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Fetch the jars if needed, format the storage if new, launch the broker and wait
        until it answers; returns the bootstrap address. A no-op if already running."""
        if self.is_running():
            return self.bootstrap_servers
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="aor-kafka-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._libs is None:
            self._libs = ensure_jars()
        if self._java is None:
            self._java = find_java()
        picked = self._pick_ports()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._write_config()
            if not (self.log_dir / "meta.properties").is_file():
                self._format()
            try:
                self._launch()
                break
            except DevKafkaError as error:
                # A port picked here was taken between the pick and the bind: pick again.
                if not picked or attempt == PORT_ATTEMPTS or ADDRESS_IN_USE not in str(error):
                    raise
                self._port, self._controller_port = self._given_ports
                self._pick_ports()
        return self.bootstrap_servers

    def stop(self) -> None:
        """SIGTERM the broker, SIGKILL it after ``stop_grace`` seconds, wait for it; then
        remove the data folder if it was a temporary one. Safe to call twice."""
        self._stop_process()
        if self._owns_data and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def restart(self) -> str:
        """Stop the broker and start it again on the same ports and data."""
        self._stop_process()
        if self._port is None or self._data_dir is None or not self.properties_file.is_file():
            return self.start()
        self._launch()
        return self.bootstrap_servers

    def kill(self) -> None:
        """SIGKILL the broker at once (no controlled shutdown), keeping its data: a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __repr__(self) -> str:
        address = f"{LOOPBACK}:{self._port}" if self._port else "not started"
        return f"LocalKafka({address}, data_dir={self._data_dir}, pid={self.pid})"

    # -- steps --------------------------------------------------------------------------

    def _java_command(self, main_class: str, *args: str,
                      jvm_options: Sequence[str] = ()) -> list[str]:
        assert self._java is not None and self._libs is not None
        return [str(self._java.executable), *jvm_options,
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
                "-cp", class_path(self._libs), main_class, *args]

    def _pick_ports(self) -> bool:
        """Free ports for those not given; True if any was picked here."""
        picked = self._port is None or self._controller_port is None
        if self._port is None:
            self._port = free_port(LOOPBACK)
        while self._controller_port is None or self._controller_port == self._port:
            self._controller_port = free_port(LOOPBACK)
        return picked

    def _write_config(self) -> None:
        assert self._port is not None and self._controller_port is not None
        props = broker_properties(self._port, self._controller_port, self.log_dir,
                                  extra=self._extra)
        self.properties_file.write_text(render_properties(props), encoding="utf-8")
        (self.data_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")

    def _format(self) -> None:
        """``kafka-storage format``: a static quorum (``controller.quorum.voters``), so no
        ``--standalone`` / ``--initial-controllers``."""
        command = self._java_command("kafka.tools.StorageTool", "format",
                                     "-t", new_cluster_id(), "-c", str(self.properties_file))
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False,
                                  timeout=FORMAT_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise DevKafkaError(f"formatting {self.log_dir} took over {FORMAT_TIMEOUT:.0f} s"
                                ) from error
        output = done.stdout + done.stderr
        (self.data_dir / "format.log").write_text(output, encoding="utf-8")
        if done.returncode != 0:
            raise DevKafkaError(f"kafka-storage format failed ({done.returncode}):\n"
                                f"{output.strip()}")

    def _launch(self) -> None:
        command = self._java_command("kafka.Kafka", str(self.properties_file),
                                     jvm_options=self._jvm_options)
        if not self._detached:
            command = [*parent_death_prefix(), *command]
        with self.log_file.open("ab") as log:
            log.write(f"\n{RUN_HEADER} {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.data_dir, start_new_session=self._detached)
        process = self._process
        launched = time.monotonic()
        try:
            wait_until_ready(self.bootstrap_servers, self.start_timeout,
                             alive=lambda: process.poll() is None,
                             on_failure=self._failure_message)
        except BaseException:
            self._stop_process()
            raise
        self.last_start_seconds = time.monotonic() - launched

    def _failure_message(self, reason: str) -> str:
        code = None if self._process is None else self._process.poll()
        exited = f" (exit code {code})" if code is not None else ""
        errors = log_errors(self.log_file)
        first = ("errors logged:\n" + "\n".join(errors) + "\n") if errors else ""
        return (f"{reason}{exited}; log {self.log_file}\n{first}last lines:\n"
                f"{log_tail(self.log_file)}")

    def _stop_process(self) -> None:
        if self._process is not None:
            terminate_child(self._process, self.stop_grace)
        self._process = None
