"""Signal and wait for processes by id (the broker may outlive the process that started it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True if a process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def command_line(pid: int) -> list[str] | None:
    """The arguments of process ``pid`` from /proc; None where that cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_broker(pid: int, properties_file: Path) -> bool:
    """True if ``pid`` is alive and is a ``kafka.Kafka`` run on ``properties_file`` (guards
    against a recycled process id); without /proc, alive is enough."""
    if not pid_alive(pid):
        return False
    args = command_line(pid)
    if args is None:
        return True
    return "kafka.Kafka" in args and str(properties_file) in args


def terminate_pid(pid: int, grace: float) -> bool:
    """SIGTERM ``pid``, SIGKILL it if still alive after ``grace`` seconds, and wait until it
    is gone; True if it had to be killed. For a process that is not our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, grace):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 30.0)
    return True


def terminate_child(process: subprocess.Popen[bytes], grace: float) -> bool:
    """SIGTERM our child, SIGKILL it after ``grace`` seconds, reap it; True if killed."""
    if process.poll() is not None:
        return False
    process.terminate()
    try:
        process.wait(timeout=grace)
        return False
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def parent_death_prefix() -> list[str]:
    """A command prefix that makes the broker get SIGTERM when the thread that started it
    dies (Linux ``PR_SET_PDEATHSIG``, through util-linux ``setpriv``, which then execs the
    command under the same pid), so that a killed test run leaves no broker behind; empty
    where ``setpriv`` is missing. Used instead of a ``preexec_fn``, which is unsafe in a
    process with threads (librdkafka's)."""
    if not sys.platform.startswith("linux"):
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
