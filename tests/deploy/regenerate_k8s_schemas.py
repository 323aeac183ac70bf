"""Rewrite the kept Kubernetes schemas of the built-in kinds that deploy/k8s uses.

Each file under deploy/schemas/kubernetes/v<version>/ is the strict JSON Schema that the
kubernetes-validate package ships for that kind and version (no network: the package
holds them), made self-contained: the definitions it refers to, and only those, are
copied into its ``$defs``. Run this after adding a manifest of a new kind, or to move to
another Kubernetes version (``KUBERNETES_VERSION`` in manifests.py), then review the diff:

    .venv/bin/python -m tests.deploy.regenerate_k8s_schemas   # from the repository root
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from tests.deploy.manifests import (
    K8S_CORE_SCHEMAS,
    KUBERNETES_VERSION,
    core_schema_file,
    is_core_kind,
    k8s_manifests,
)

# A kind's file refers to "/api/_definitions.json#/$defs/<name>"; definitions refer to
# each other as "#/$defs/<name>".
_REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def _ref_name(ref: object) -> str | None:
    if isinstance(ref, str):
        for prefix in _REF_PREFIXES:
            if ref.startswith(prefix):
                return ref.removeprefix(prefix)
    return None


def _package_dir() -> Any:
    return (resources.files("kubernetes_validate") / "kubernetes-json-schema"
            / f"v{KUBERNETES_VERSION}.0-local-strict")


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        name = _ref_name(node.get("$ref"))
        if name is not None:
            found.add(name)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (f"#/$defs/{_ref_name(value) or value}" if key == "$ref"
                      else _rewrite(value))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node


def bundled_schema(file_name: str) -> dict[str, Any]:
    """The kind's schema with the definitions it needs, transitively, in ``$defs``."""
    folder = _package_dir()
    schema: dict[str, Any] = json.loads((folder / file_name).read_text(encoding="utf-8"))
    definitions = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))
    all_defs: dict[str, Any] = definitions["$defs"]
    needed: dict[str, Any] = {}
    pending = _refs(schema)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed[name] = all_defs[name]
        pending |= _refs(all_defs[name]) - set(needed)
    from kubernetes_validate.version import (  # type: ignore[import-untyped,unused-ignore]
        __version__,
    )

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (f"Kubernetes v{KUBERNETES_VERSION} strict schema from kubernetes-validate "
                     f"{__version__} ({file_name}), bundled by "
                     "tests/deploy/regenerate_k8s_schemas.py. Apache-2.0."),
        **_rewrite({k: v for k, v in schema.items() if k not in ("$schema", "$id")}),
        "$defs": _rewrite(dict(sorted(needed.items()))),
    }


def main() -> None:
    kinds = sorted({(doc["kind"], doc["apiVersion"]) for _, doc in k8s_manifests()
                    if is_core_kind(doc["apiVersion"])})
    K8S_CORE_SCHEMAS.mkdir(parents=True, exist_ok=True)
    for old in K8S_CORE_SCHEMAS.glob("*.json"):
        old.unlink()
    for kind, api_version in kinds:
        target = core_schema_file(kind, api_version)
        target.write_text(json.dumps(bundled_schema(target.name), indent=1, sort_keys=False)
                          + "\n", encoding="utf-8")
        print(f"{target.relative_to(K8S_CORE_SCHEMAS.parents[2])}: {kind} {api_version}")


if __name__ == "__main__":
    main()
