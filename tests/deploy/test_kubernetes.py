"""deploy/k8s against Kubernetes schemas kept in the repository (deploy/schemas), offline:
built-in kinds against Kubernetes' strict schemas, the KEDA and Prometheus Operator
objects against their CRDs' openAPIV3Schema. Then what the schemas cannot see: the
objects agree with each other and with the processor's settings."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from processor.config import Settings
from tests.deploy.manifests import (
    K8S_DIR,
    KUBERNETES_VERSION,
    Doc,
    api_group,
    core_schema_file,
    crd_json_schema,
    crd_schemas,
    final_stage_user,
    is_core_kind,
    k8s_manifests,
    k8s_object,
)

MANIFESTS = k8s_manifests()
IDS = [f"{path.name}:{doc['kind']}" for path, doc in MANIFESTS]
CRD_KINDS = {("keda.sh", "ScaledObject"), ("keda.sh", "TriggerAuthentication"),
             ("monitoring.coreos.com", "ServiceMonitor"),
             ("monitoring.coreos.com", "PrometheusRule")}


def _errors(doc: Doc) -> list[str]:
    """Schema errors of one manifest against the kept schema of its kind."""
    api_version, kind = doc["apiVersion"], doc["kind"]
    if is_core_kind(api_version):
        path = core_schema_file(kind, api_version)
        assert path.is_file(), (f"no kept schema for {kind} {api_version}: run "
                                "python -m tests.deploy.regenerate_k8s_schemas")
        schema: Doc = json.loads(path.read_text(encoding="utf-8"))
    else:
        key = (api_group(api_version), api_version.split("/")[1], kind)
        crds = crd_schemas()
        assert key in crds, f"no kept CRD schema for {key} in deploy/schemas"
        schema = crd_json_schema(crds[key]["openAPIV3Schema"])
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize(("path", "doc"), MANIFESTS, ids=IDS)
def test_manifest_is_valid_against_its_kept_schema(path: Path, doc: Doc) -> None:
    assert _errors(doc) == [], path.name


CORE = [(i, m) for i, m in zip(IDS, MANIFESTS, strict=True) if is_core_kind(m[1]["apiVersion"])]


@pytest.mark.parametrize(("path", "doc"), [m for _, m in CORE], ids=[i for i, _ in CORE])
def test_core_kinds_also_pass_kubernetes_validate(path: Path, doc: Doc) -> None:
    """The kept copies are what the pinned kubernetes-validate package ships."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_crd_kind_in_use_has_a_kept_schema() -> None:
    used = {(api_group(d["apiVersion"]), d["kind"]) for _, d in MANIFESTS
            if not is_core_kind(d["apiVersion"])}
    assert used == CRD_KINDS
    kept = {(group, kind) for group, _, kind in crd_schemas()}
    assert kept >= CRD_KINDS


def _broken(kind: str, name: str, change: Any) -> Doc:
    doc = copy.deepcopy(k8s_object(kind, name))
    change(doc)
    return doc


@pytest.mark.parametrize(("kind", "name", "change"), [
    ("Deployment", "aor-processor",
     lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenesProbe={})),
    ("Deployment", "aor-processor",
     lambda d: d["spec"]["template"]["spec"]["securityContext"].update(runAsNonRoot="yes")),
    ("PodDisruptionBudget", "aor-processor", lambda d: d["spec"].update(maxUnavaliable=1)),
    ("ScaledObject", "aor-processor", lambda d: d["spec"].update(maxReplicas=6)),
    ("ScaledObject", "aor-processor", lambda d: d["spec"]["triggers"][0].pop("type")),
    ("ScaledObject", "aor-processor", lambda d: d["spec"].update(maxReplicaCount="6")),
    ("TriggerAuthentication", "aor-processor-kafka",
     lambda d: d["spec"]["secretTargetRef"][0].pop("key")),
    ("ServiceMonitor", "aor-processor", lambda d: d["spec"]["endpoints"][0].update(
        interval="thirty seconds")),
    ("PrometheusRule", "aor-processor", lambda d: d["spec"]["groups"][0]["rules"][0].pop("expr")),
])
def test_the_schema_check_catches_mistakes(kind: str, name: str, change: Any) -> None:
    assert _errors(_broken(kind, name, change))


def test_kustomization_lists_every_manifest_but_the_examples() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    files = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    examples = {p.name for p in K8S_DIR.glob("*.example.yaml")}
    assert examples == {"secret.example.yaml", "toolbox.example.yaml"}
    assert listed == files - examples


# -- the objects agree with each other and with the processor ------------------------------

def _container() -> Doc:
    containers = k8s_object("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def _config() -> dict[str, str]:
    data: dict[str, str] = k8s_object("ConfigMap")["data"]
    return data


def test_configmap_and_env_are_settings_of_the_processor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    names = set(_config()) | {e["name"] for e in _container()["env"]}
    unknown = sorted(n for n in names if not n.startswith("AOR_")
                     or n.removeprefix("AOR_") not in fields)
    assert not unknown, f"not settings of processor/config.py: {unknown}"
    # and the values parse as the pod reads them: a bad value fails here, not at start-up
    for name in [n for n in os.environ if n.startswith("AOR_")]:
        monkeypatch.delenv(name)
    for name, value in _config().items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.application_id == _config()["AOR_APPLICATION_ID"]
    assert settings.static_membership is False


def test_kafka_credentials_come_from_the_secret() -> None:
    container = _container()
    assert {"configMapRef": {"name": "aor-processor"}} in container["envFrom"]
    env = {e["name"]: e for e in container["env"]}
    secret = k8s_object("Secret", "aor-processor-kafka")
    for name, key in (("AOR_SASL_USERNAME", "sasl-username"),
                      ("AOR_SASL_PASSWORD", "sasl-password")):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "aor-processor-kafka", "key": key}
        assert key in secret["stringData"]
        assert secret["stringData"][key].startswith("CHANGE-ME"), "example values only"
    assert not any(k.startswith("AOR_SASL_") and "PASSWORD" in k for k in _config())


def test_pods_run_as_the_images_non_root_user() -> None:
    uid = final_stage_user()[0]
    pod = k8s_object("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    container = _container()["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["runAsUser"] == uid
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_resources_are_requested_and_limited() -> None:
    resources = _container()["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}


def test_pdb_and_service_select_the_deployments_pods() -> None:
    labels = k8s_object("Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = k8s_object("Deployment")["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    pdb = k8s_object("PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"] == selector
    assert k8s_object("Service")["spec"]["selector"] == selector


def test_servicemonitor_scrapes_the_metrics_port_of_the_service() -> None:
    service = k8s_object("Service")
    monitor = k8s_object("ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    (endpoint,) = monitor["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert ports[endpoint["port"]]["targetPort"] == "metrics"
    assert ports[endpoint["port"]]["port"] == Settings.model_fields["metrics_port"].default


def test_scaledobject_scales_the_deployment_on_the_groups_lag_up_to_the_partitions() -> None:
    config = _config()
    scaled = k8s_object("ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == k8s_object("Deployment")["metadata"]["name"]
    assert scaled["scaleTargetRef"]["kind"] == "Deployment"
    partitions = int(config["AOR_PARTITIONS"])
    assert scaled["maxReplicaCount"] == partitions
    assert 2 <= scaled["minReplicaCount"] <= partitions
    assert k8s_object("Deployment")["spec"]["replicas"] == scaled["minReplicaCount"]
    triggers = scaled["triggers"]
    assert {t["metadata"]["topic"] for t in triggers} == {
        config["AOR_ENROLLMENTS_TOPIC"], config["AOR_PLAN_CHANGES_TOPIC"]}
    auth = k8s_object("TriggerAuthentication", "aor-processor-kafka")["spec"]
    for trigger in triggers:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["consumerGroup"] == config["AOR_APPLICATION_ID"]
        assert meta["bootstrapServers"] == config["AOR_BOOTSTRAP_SERVERS"]
        assert int(meta["lagThreshold"]) > 0
        assert meta["allowIdleConsumers"] == "false"
        assert trigger["authenticationRef"]["name"] == "aor-processor-kafka"
    params = {r["parameter"]: r for r in auth["secretTargetRef"]}
    assert set(params) == {"sasl", "username", "password", "tls"}
    secret = k8s_object("Secret", "aor-processor-kafka")["stringData"]
    assert all(r["name"] == "aor-processor-kafka" and r["key"] in secret
               for r in params.values())
    mechanism = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256",
                 "PLAIN": "plaintext"}[config["AOR_SASL_MECHANISM"]]
    assert secret[params["sasl"]["key"]] == mechanism
    assert (secret[params["tls"]["key"]] == "enable") == config[
        "AOR_SECURITY_PROTOCOL"].endswith("SSL")


def test_the_configmap_sets_the_correction_window_the_regulation_needs() -> None:
    """731 days reach January 1 of the previous calendar year from any day (policy.md,
    Corrections); the ConfigMap states it, and it is the settings' default too."""
    assert _config()["AOR_CORRECTION_WINDOW_DAYS"] == "731"
    assert Settings.model_fields["correction_window_days"].default == 731
