"""A guard for Kafka calls that take a timeout but may block far past it.

librdkafka's ``send_offsets_to_transaction`` can block for ever once the group
coordinator went away, whatever its timeout (confluentinc/librdkafka#5456 and #5511;
seen here after a broker restart). A process stuck there commits nothing, answers no
SIGTERM and, under static membership, keeps its partitions. The watchdog ends it
instead, so that the orchestrator starts it again. Exactly-once holds: the next instance
with the same ``transactional.id`` fences this one and aborts its open transaction.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog

log = structlog.get_logger("aor.runtime")

#: Exit code of a process ended by the watchdog.
EXIT_STALLED = 3
#: How long past its own timeout a call may block before the process is ended.
GRACE_S = 15.0

OnStall = Callable[[str, float], None]


def exit_stalled(call: str, seconds: float) -> None:
    log.error("kafka.call_stalled", call=call, seconds=round(seconds, 1), action="exit",
              exit_code=EXIT_STALLED)
    sys.stderr.flush()
    os._exit(EXIT_STALLED)


class Watchdog:
    """``with watchdog.guard("commit_transaction", 60): ...`` ends the process (or calls
    ``on_stall``) if the block is still running ``timeout_s + grace_s`` seconds later."""

    def __init__(self, grace_s: float = GRACE_S, on_stall: OnStall = exit_stalled,
                 tick_s: float = 1.0) -> None:
        self.grace_s = grace_s
        self.tick_s = tick_s
        self._on_stall = on_stall
        self._lock = threading.Lock()
        self._call: tuple[str, float, float] | None = None  # call, started, deadline
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def guard(self, call: str, timeout_s: float) -> Iterator[None]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="kafka-watchdog",
                                            daemon=True)
            self._thread.start()
        started = time.monotonic()
        with self._lock:
            self._call = (call, started, started + timeout_s + self.grace_s)
        try:
            yield
        finally:
            with self._lock:
                self._call = None

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self._lock:
                call = self._call
            now = time.monotonic()
            if call is not None and now > call[2]:
                self._on_stall(call[0], now - call[1])
                return


__all__ = ["EXIT_STALLED", "Watchdog"]
