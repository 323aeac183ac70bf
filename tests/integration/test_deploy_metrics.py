"""The Grafana dashboard (deploy/grafana) and the alert rules (deploy/prometheus) name only
metrics that a running processor exports: checked against the /metrics endpoint of a real
`aor-processor run` that has processed the bundled sample, on the port the probes use."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from processor.devkafka.net import free_port
from tests.deploy.manifests import REPO, exported_sample_names, monitoring_metric_names
from tests.http_probe import get
from tests.integration.harness import Deployment, terminate, wait_for

pytestmark = pytest.mark.kafka

SAMPLE = REPO / "samples" / "sample"


def test_dashboard_and_alerts_use_only_metrics_a_running_processor_exports(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    used = monitoring_metric_names()
    assert used, "the dashboard and the alert rules name no metric"
    port = free_port()
    app = Deployment(kafka_bootstrap, partitions=3, extra_env={"AOR_METRICS_PORT": str(port)})
    app.setup(SAMPLE)
    log = tmp_path / "run.log"
    process = app.start(log=log)
    exported: set[str] = set()
    exit_code: int | None = None
    try:
        wait_for(lambda: get(port, "/readyz")[0] == 200, 120,
                 f"/readyz on port {port}; log {log}")
        assert get(port, "/healthz")[0] == 200

        def all_exported() -> bool:
            assert process.poll() is None, f"the processor exited; log {log}"
            status, body = get(port, "/metrics")
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
