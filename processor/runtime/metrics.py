"""Prometheus metrics and the health/readiness endpoint.

Labels are topics, outcomes and error types only: never a member or agent id.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records_in = Counter("aor_records_in", "Input records consumed", ["topic"],
                                  registry=r)
        self.records_out = Counter("aor_records_out", "Records produced", ["topic"],
                                   registry=r)
        self.decisions = Counter("aor_decisions", "Original decisions by outcome",
                                 ["outcome"], registry=r)
        self.corrections = Counter("aor_corrections", "Superseding decisions emitted",
                                   registry=r)
        self.dead_letters = Counter("aor_dead_letters", "Dead letters by error type",
                                    ["error_type"], registry=r)
        self.duplicates = Counter("aor_duplicate_events", "Duplicate events ignored",
                                  registry=r)
        self.early_decisions = Counter(
            "aor_early_decisions",
            "Events decided before the agent-status table passed them (gate timed out)",
            registry=r)
        self.transactions = Counter("aor_transactions", "Transactions by result", ["result"],
                                    registry=r)
        self.transaction_seconds = Histogram(
            "aor_transaction_seconds", "Time to produce and commit one transaction",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.consumer_lag = Gauge("aor_consumer_lag", "Records behind the end of the input",
                                  ["topic"], registry=r)
        self.assigned_partitions = Gauge("aor_assigned_partitions",
                                         "Input partitions owned by this instance", registry=r)
        self.members = Gauge("aor_members", "Members held in local state", registry=r)
        self.agent_snapshots = Gauge("aor_agent_snapshots", "Snapshots in the agent table",
                                     registry=r)
        self.restore_seconds = Histogram(
            "aor_restore_seconds", "Time to restore a partition from the changelog",
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120), registry=r)
        self.last_loop = Gauge("aor_last_loop_timestamp_seconds",
                               "Wall time of the last main-loop turn", registry=r)


class Health:
    """Liveness: the loop turned recently. Readiness: table bootstrapped and in the group."""

    def __init__(self, stale_after_s: float = 60.0) -> None:
        self.stale_after_s = stale_after_s
        self.ready = False
        self._beat = time.monotonic()

    def beat(self) -> None:
        self._beat = time.monotonic()

    @property
    def alive(self) -> bool:
        return time.monotonic() - self._beat < self.stale_after_s


def serve(metrics: Metrics, health: Health, port: int, host: str = "0.0.0.0"
          ) -> ThreadingHTTPServer:
    """/metrics, /healthz and /readyz on one port, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                ok = health.alive
                body, status, kind = (b"ok\n" if ok else b"stalled\n"), (200 if ok else 503), \
                    "text/plain"
            elif self.path == "/readyz":
                ok = health.ready and health.alive
                body, status, kind = (b"ready\n" if ok else b"not ready\n"), \
                    (200 if ok else 503), "text/plain"
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes are not worth a log line each

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="aor-metrics", daemon=True).start()
    return server
