"""The image runs as a non-root user, and every health check (the image's HEALTHCHECK, the
Kubernetes probes) asks the real endpoint on the real port: the one the Dockerfile
exposes, Settings.metrics_port defaults to, and processor.runtime.metrics serves."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from processor.config import Settings
from processor.devkafka.net import free_port
from processor.runtime.metrics import Health, Metrics, serve
from tests.deploy.manifests import (
    DOCKERFILE,
    dockerfile_instructions,
    dockerfile_stages,
    final_stage_user,
    k8s_object,
)
from tests.http_probe import get

METRICS_PORT = Settings.model_fields["metrics_port"].default
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def final_stage(word: str) -> list[str]:
    return [args for w, args in dockerfile_stages()[-1] if w == word]


def test_multi_stage_build_from_a_pinned_slim_python() -> None:
    all_stages = dockerfile_stages()
    assert len(all_stages) >= 2, "a builder stage and a runtime stage"
    args = dict(a.partition("=")[::2] for w, a in dockerfile_instructions(DOCKERFILE.read_text())
                if w == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    assert all(stage[0][1].split()[0] == "${PYTHON_IMAGE}" for stage in all_stages)
    assert any("--from=builder" in args for args in final_stage("COPY"))


def test_image_runs_as_a_numeric_non_root_user() -> None:
    uid, gid = final_stage_user()
    assert uid != 0
    assert gid != 0


def test_image_entrypoint_is_the_cli_and_runs_the_processor() -> None:
    assert final_stage("ENTRYPOINT") == ['["aor-processor"]']
    assert final_stage("CMD") == ['["run"]']


def test_image_sets_the_schemas_dir_and_copies_the_contract_and_samples() -> None:
    env = " ".join(final_stage("ENV"))
    assert re.search(r"\bAOR_SCHEMAS_DIR=/app/schemas\b", env)
    copies = final_stage("COPY")
    assert "schemas /app/schemas" in copies
    assert "samples /app/samples" in copies


def test_healthcheck_exposed_port_and_metrics_port_agree_with_settings() -> None:
    env = " ".join(final_stage("ENV"))
    port = re.search(r"\bAOR_METRICS_PORT=(\d+)", env)
    assert port is not None and int(port.group(1)) == METRICS_PORT
    assert final_stage("EXPOSE") == [str(METRICS_PORT)]
    (healthcheck,) = final_stage("HEALTHCHECK")
    assert "CMD" in healthcheck
    url = re.search(r"http://127\.0\.0\.1:%s(/\w+)", healthcheck)
    assert url is not None and url.group(1) == "/healthz"
    default = re.search(r"get\('AOR_METRICS_PORT', '(\d+)'\)", healthcheck)
    assert default is not None and int(default.group(1)) == METRICS_PORT


def _probe_targets() -> dict[str, tuple[str, int]]:
    container = k8s_object("Deployment")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    targets = {}
    for probe in PROBES:
        http = container[probe]["httpGet"]
        port = http["port"]
        targets[probe] = (http["path"], ports[port] if isinstance(port, str) else port)
    return targets


def test_k8s_probes_ask_the_health_endpoints_on_the_metrics_port() -> None:
    targets = _probe_targets()
    assert targets["livenessProbe"] == ("/healthz", METRICS_PORT)
    assert targets["readinessProbe"] == ("/readyz", METRICS_PORT)
    assert targets["startupProbe"] == ("/readyz", METRICS_PORT)
    config = k8s_object("ConfigMap")["data"]
    assert int(config["AOR_METRICS_PORT"]) == METRICS_PORT


@pytest.fixture
def endpoint() -> Iterator[tuple[int, Health]]:
    health = Health()
    port = free_port()
    server = serve(Metrics(), health, port, host="127.0.0.1")
    try:
        yield port, health
    finally:
        server.shutdown()
        server.server_close()


def test_probe_paths_are_served_by_the_metrics_endpoint(endpoint: tuple[int, Health]) -> None:
    port, health = endpoint
    assert get(port, "/no-such-path")[0] == 404
    paths = {path for path, _ in _probe_targets().values()}
    health.ready = False
    assert get(port, "/healthz")[0] == 200
    assert get(port, "/readyz")[0] == 503
    for path in paths:
        assert get(port, path)[0] in (200, 503), path
    health.ready = True
    for path in paths:
        assert get(port, path)[0] == 200, path
    health.stale_after_s = 0.0  # the loop stalled
    assert get(port, "/healthz")[0] == 503
    assert get(port, "/readyz")[0] == 503
