"""The Grafana dashboard (deploy/grafana) and the alert rules (deploy/prometheus) name only
metrics that a running processor exports: checked against the /metrics endpoint of a real
`aor-processor run` that has processed the bundled sample, on the port the probes use."""

from __future__ import annotations

import contextlib
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.manifests import REPO, exported_sample_names, monitoring_metric_names
from tests.integration.harness import Deployment, terminate, wait_for

pytestmark = pytest.mark.kafka

SAMPLE = REPO / "samples" / "sample"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(port: int, path: str) -> tuple[int, str]:
    """(status, body); (0, reason) while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def test_dashboard_and_alerts_use_only_metrics_a_running_processor_exports(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    used = monitoring_metric_names()
    assert used, "the dashboard and the alert rules name no metric"
    port = _free_port()
    app = Deployment(kafka_bootstrap, partitions=3, extra_env={"AOR_METRICS_PORT": str(port)})
    app.setup(SAMPLE)
    log = tmp_path / "run.log"
    process = app.start(log=log)
    exported: set[str] = set()
    exit_code: int | None = None
    try:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 120,
                 f"/readyz on port {port}; log {log}")
        assert _get(port, "/healthz")[0] == 200

        def all_exported() -> bool:
            assert process.poll() is None, f"the processor exited; log {log}"
            status, body = _get(port, "/metrics")
            if status != 200:
                return False
            exported.clear()
            exported.update(exported_sample_names(body))
            return set(used) <= exported

        # Labelled series (decisions by outcome, dead letters by error type, corrections,
        # committed transactions, restores) appear once the sample has been processed.
        with contextlib.suppress(AssertionError):  # the assertion below names what is missing
            wait_for(all_exported, 180, "every metric of the dashboard and the alerts")
    finally:
        exit_code = terminate(process)
    assert exit_code == 0, f"SIGTERM did not exit 0; log {log}"
    missing = {name: sorted(where) for name, where in used.items() if name not in exported}
    assert not missing, (f"named in deploy/ but not exported by the running processor: "
                         f"{missing}\nexported: {sorted(exported)}")
