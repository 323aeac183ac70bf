"""Reading deploy/: manifests, the kept schemas, and the metric names in PromQL.

Shared by the static checks in tests/deploy and tests/integration/test_deploy_metrics.py.
Everything here is offline: the schemas are files in the repository (deploy/schemas).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S_DIR = DEPLOY / "k8s"
SCHEMAS_DIR = DEPLOY / "schemas"
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_SCHEMA = SCHEMAS_DIR / "compose-spec.json"
DOCKERFILE = REPO / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "aor-processor.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"

# The Kubernetes version the core kinds are validated against (kept under
# deploy/schemas/kubernetes/v<version>; tests/deploy/regenerate_k8s_schemas.py).
KUBERNETES_VERSION = "1.35"
K8S_CORE_SCHEMAS = SCHEMAS_DIR / "kubernetes" / f"v{KUBERNETES_VERSION}"

Doc = dict[str, Any]


def load_yaml_docs(path: Path) -> list[Doc]:
    """Every non-empty document of a YAML file."""
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: a document is not a mapping")
    return docs


def k8s_manifests() -> list[tuple[Path, Doc]]:
    """Every Kubernetes object under deploy/k8s (kustomization.yaml is not one)."""
    found: list[tuple[Path, Doc]] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found.extend((path, doc) for doc in load_yaml_docs(path))
    return found


def k8s_object(kind: str, name: str = "aor-processor") -> Doc:
    """The one manifest of this kind and name."""
    matches = [doc for _, doc in k8s_manifests()
               if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} {kind} objects named {name} in {K8S_DIR}")
    return matches[0]


def api_group(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` -> ``""`` (the core group)."""
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def is_core_kind(api_version: str) -> bool:
    """Built into Kubernetes (validated with the kept Kubernetes schemas), not a CRD."""
    group = api_group(api_version)
    return group == "" or "." not in group or group.endswith(".k8s.io")


def core_schema_file(kind: str, api_version: str) -> Path:
    """Kept schema of a built-in kind, named as kubernetes-validate names it."""
    group = api_group(api_version).split(".")[0]
    version = api_version.rsplit("/", maxsplit=1)[-1]
    stem = f"{kind.lower()}-{group}-{version}" if group else f"{kind.lower()}-{version}"
    return K8S_CORE_SCHEMAS / f"{stem}.json"


# -- Dockerfile -----------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        found.append((word.upper(), rest.strip()))
    return found


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The build stages: instructions from one FROM to the next."""
    found: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final_stage_user() -> tuple[int, int | None]:
    """(uid, gid) of the final stage's last USER instruction, which must be numeric:
    Kubernetes' runAsNonRoot can only verify a numeric user."""
    users = [args for word, args in dockerfile_stages()[-1] if word == "USER"]
    assert users, "the final stage sets no USER: the image would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), f"USER {users[-1]} is not numeric"
    assert not group or group.isdigit(), f"USER {users[-1]}: the group is not numeric"
    return int(user), int(group) if group else None


# -- CRDs -------------------------------------------------------------------------------

def crd_schemas() -> dict[tuple[str, str, str], Doc]:
    """(group, version, kind) -> the kept CRD file (``openAPIV3Schema`` and provenance)."""
    found: dict[tuple[str, str, str], Doc] = {}
    for path in sorted(SCHEMAS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[(doc["group"], doc["version"], doc["kind"])] = doc
    return found


def crd_json_schema(open_api: Doc) -> Doc:
    """A JSON Schema from a CRD's structural ``openAPIV3Schema``, strict like kubeconform
    ``-strict``: an object that lists its properties and neither has
    ``additionalProperties`` nor preserves unknown fields admits no other property, so a
    misspelt field fails instead of being pruned silently by the API server."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: convert(value) for key, value in node.items()
               if not key.startswith("x-kubernetes-") and key != "nullable"}
        if node.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if (node.get("type") == "object" and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out

    converted: Doc = convert(open_api)
    return converted


# -- Compose ------------------------------------------------------------------------------

def compose() -> Doc:
    docs = load_yaml_docs(COMPOSE_FILE)
    assert len(docs) == 1
    return docs[0]


def compose_schema() -> Doc:
    schema: Doc = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    return schema


# -- PromQL ---------------------------------------------------------------------------------

# PromQL words that are not metric names (operators, modifiers, aggregation clauses).
_KEYWORDS = frozenset({
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "atan2", "inf", "nan", "start", "end",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_DURATION = re.compile(r"(?<![\w:])(?:\d+(?:ms|[smhdwy]))+(?![\w:])")
_NUMBER = re.compile(r"(?<![\w:])[-+]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\(\s*(?P<metric>[^,()]*(?:\{[^}]*\})?)\s*,")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (function names, keywords, label
    names and values, durations, numbers and Grafana variables are not)."""
    text = _GRAFANA_VARIABLE.sub(" ", expr)
    text = _STRING.sub(" ", text)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _DURATION.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        following = text[match.end():].lstrip()
        if following.startswith("("):  # a function or an aggregation
            continue
        if word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def grafana_query_metric_names(query: str) -> set[str]:
    """Metric names of a Grafana templating query (``label_values(metric, label)``)."""
    found = _LABEL_VALUES.match(query)
    if found is not None:
        return promql_metric_names(found.group("metric"))
    return promql_metric_names(query)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def dashboard() -> Doc:
    board: Doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return board


def dashboard_expressions() -> list[str]:
    """Every PromQL expression of the dashboard's panels (nested rows included)."""
    return [node["expr"] for node in _walk(dashboard().get("panels", []))
            if isinstance(node.get("expr"), str)]


def dashboard_variable_queries() -> list[str]:
    queries: list[str] = []
    for variable in dashboard().get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        queries.append(query.get("query", "") if isinstance(query, dict) else str(query))
    return queries


def alert_rules() -> list[Doc]:
    rules: list[Doc] = []
    for group in load_yaml_docs(ALERTS)[0]["groups"]:
        rules.extend(group["rules"])
    return rules


def monitoring_metric_names() -> dict[str, set[str]]:
    """Metric name -> where it is used (dashboard panels, variables, alert rules)."""
    used: dict[str, set[str]] = {}

    def note(names: set[str], where: str) -> None:
        for name in names:
            used.setdefault(name, set()).add(where)

    for expr in dashboard_expressions():
        note(promql_metric_names(expr), f"dashboard: {expr}")
    for query in dashboard_variable_queries():
        note(grafana_query_metric_names(query), f"dashboard variable: {query}")
    for rule in alert_rules():
        note(promql_metric_names(str(rule["expr"])), f"alert {rule.get('alert')}")
    return used


def exported_sample_names(text: str, *, declared: bool = False) -> set[str]:
    """Sample names of a Prometheus text exposition. With ``declared``, also the names
    each family declares by its type: a labelled counter with no child yet has HELP and
    TYPE lines but no sample, and will export ``<name>_total`` once counted."""
    from prometheus_client.parser import text_string_to_metric_families

    suffixes = {"counter": ("_total", "_created"),
                "histogram": ("_bucket", "_count", "_sum", "_created"),
                "summary": ("_count", "_sum", "_created"),
                "gauge": ("",), "untyped": ("",), "info": ("_info",)}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        if declared:
            names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names
