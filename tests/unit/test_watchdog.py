"""The watchdog ends a process whose guarded Kafka call blocks past its timeout (and a
grace), and leaves calls that finish in time alone."""

from __future__ import annotations

import threading
import time

from processor.runtime.watchdog import Watchdog


def stalls_seen(watchdog_grace: float, block_s: float, timeout_s: float
                ) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    fired = threading.Event()

    def on_stall(call: str, seconds: float) -> None:
        seen.append((call, seconds))
        fired.set()

    watchdog = Watchdog(grace_s=watchdog_grace, on_stall=on_stall, tick_s=0.02)
    try:
        with watchdog.guard("send_offsets_to_transaction", timeout_s):
            fired.wait(block_s)
        time.sleep(0.1)  # a tick after the call: nothing is guarded any more
    finally:
        watchdog.stop()
    return seen


def test_a_call_blocking_past_its_timeout_and_grace_is_reported_once() -> None:
    seen = stalls_seen(watchdog_grace=0.1, block_s=2.0, timeout_s=0.1)
    assert [call for call, _ in seen] == ["send_offsets_to_transaction"]
    assert seen[0][1] >= 0.2


def test_a_call_that_returns_in_time_is_left_alone() -> None:
    assert stalls_seen(watchdog_grace=0.2, block_s=0.05, timeout_s=0.2) == []
