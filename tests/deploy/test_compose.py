"""docker-compose.yml against the Compose specification (kept in deploy/schemas), offline:
no Docker engine is needed to check the file."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from processor.config import Settings
from tests.deploy.manifests import compose, compose_schema

ONE_SHOTS = ("topics", "loader")


def _errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        compose_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert _errors(compose()) == []


@pytest.mark.parametrize("breakage", [
    ("an unknown service key", lambda d: d["services"]["processor"].update(restarts="always")),
    ("a bad depends_on condition", lambda d: d["services"]["loader"]["depends_on"]["topics"]
     .update(condition="service_finished")),
    ("a healthcheck typo", lambda d: d["services"]["kafka"]["healthcheck"]
     .update(interval_s="5s")),
])
def test_the_schema_check_catches_mistakes(breakage: tuple[str, Any]) -> None:
    _, breaking = breakage
    doc = copy.deepcopy(compose())
    breaking(doc)
    assert _errors(doc), f"{breakage[0]} was not caught"


def test_the_demo_services_and_their_order() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "schema-registry", "topics", "loader", "processor"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["loader"]["command"][:3] == ["load", "--input", "/app/samples/sample"]
    assert services["processor"]["command"] == ["run"]
    for name in ("loader", "processor"):
        needs = services[name]["depends_on"]
        assert needs["topics"]["condition"] == "service_completed_successfully"
        assert needs["schema-registry"]["condition"] == "service_healthy"


def test_processor_services_share_one_image_and_valid_settings() -> None:
    services = compose()["services"]
    fields = {name.upper() for name in Settings.model_fields}
    for name in (*ONE_SHOTS, "processor"):
        service = services[name]
        assert service["image"] == "aor-processor:local"
        assert service["build"]["context"] == "."
        env = service["environment"]
        assert env["AOR_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["AOR_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
        unknown = sorted(k for k in env if k.removeprefix("AOR_") not in fields)
        assert not unknown, f"{name}: not settings of processor/config.py: {unknown}"
    for name in ONE_SHOTS:
        assert services[name]["healthcheck"] == {"disable": True}
        assert services[name]["restart"] == "no"


def test_processor_port_is_the_metrics_port() -> None:
    processor = compose()["services"]["processor"]
    port = int(processor["environment"]["AOR_METRICS_PORT"])
    assert port == Settings.model_fields["metrics_port"].default
    assert f"{port}:{port}" in processor["ports"]
