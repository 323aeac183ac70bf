"""Loading the contract's .avsc files and fingerprinting them."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form
from fastavro.types import Schema as AnySchema

from processor.codec.errors import DecodeError
from processor.codec.kinds import RecordKind
from processor.domain.model import ErrorType

Schema = dict[str, Any]

SCHEMAS_DIR_ENV = "AOR_SCHEMAS_DIR"


def schema_dir() -> Path:
    """$AOR_SCHEMAS_DIR if set, else the repository's top-level `schemas/`.

    Falls back to `processor/schemas/` (where pyproject's package-data looks),
    so an installed wheel that ships them there works too. Schemas are read
    once per process (see load_schema).
    """
    override = os.environ.get(SCHEMAS_DIR_ENV)
    if override:
        return Path(override)
    package = Path(__file__).resolve().parents[1]
    top_level = package.parent / "schemas"
    return top_level if top_level.is_dir() else package / "schemas"


def _stable(value: Any) -> Any:
    """Keys in sorted order, recursively: fastavro's parse copies some keys by iterating a
    set, so without this the schema JSON in Avro file headers varies with PYTHONHASHSEED."""
    if isinstance(value, dict):
        return {k: _stable(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


# Named types used by several records, defined once (PlanRef, PlanType, Channel): the
# other files name them. Its file name sorts first, so tools that read `schemas/*.avsc` in
# order (Apache Avro's `compile schema`) know them before they are used.
SHARED_TYPES_FILE = "0-shared-types.avsc"
NAMESPACE = "aor.v1"


@cache
def shared_types() -> dict[str, Schema]:
    """Full name -> definition of each named type in the shared file (nested ones too)."""
    path = schema_dir() / SHARED_TYPES_FILE
    if not path.is_file():
        return {}
    found: dict[str, Schema] = {}
    for definition in json.loads(path.read_text(encoding="utf-8")):
        namespace = definition.get("namespace", NAMESPACE)
        found[f"{namespace}.{definition['name']}"] = definition
    return found


def _inlined(value: Any, shared: dict[str, Schema], defined: set[str]) -> Any:
    """`value` with the first use of each shared type replaced by its definition, as Avro
    requires of a self-contained schema (later uses stay names). The inlined copy leaves
    out the namespace (the records' own) and the doc (the shared file's), so the resolved
    schema is what the files held before the types were shared: same parsing canonical
    form, fingerprint and container header bytes."""
    if isinstance(value, str):
        full = value if "." in value else f"{NAMESPACE}.{value}"
        if full in shared and full not in defined:
            defined.add(full)
            definition = {k: copy.deepcopy(v) for k, v in shared[full].items()
                          if k not in ("namespace", "doc")}
            return _inlined(definition, shared, defined)
        return value
    if isinstance(value, list):
        return [_inlined(v, shared, defined) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("type", "items", "values", "fields"):
                out[key] = _inlined(item, shared, defined)
            else:
                out[key] = item
        if out.get("type") in ("record", "enum", "fixed") and "name" in out:
            defined.add(out["name"] if "." in out["name"]
                        else f"{out.get('namespace', NAMESPACE)}.{out['name']}")
        return out
    return value


def resolved(path: Path) -> Any:
    """The schema of an .avsc file, self-contained: shared types it names inlined."""
    return _inlined(json.loads(path.read_text(encoding="utf-8")), shared_types(), set())


def _parse_file(path: Path) -> Schema:
    parsed = _stable(parse_schema(resolved(path)))
    if not isinstance(parsed, dict):
        raise ValueError(f"{path}: top-level schema must be a record")
    return parsed


@cache
def load_schema(kind: RecordKind) -> Schema:
    """The current (reader and writer) schema of a kind, parsed by fastavro."""
    return _parse_file(schema_dir() / f"{kind.record_name}.avsc")


@cache
def history_schemas(kind: RecordKind) -> tuple[Schema, ...]:
    """Older writer schemas of a kind (`history/<Name>.v<N>.avsc`), oldest first."""
    paths = (schema_dir() / "history").glob(f"{kind.record_name}.v*.avsc")
    return tuple(_parse_file(p) for p in sorted(paths, key=_version))


def _version(path: Path) -> int:
    return int(path.name.removesuffix(".avsc").rsplit(".v", 1)[1])


def canonical_form(schema: AnySchema) -> str:
    return str(to_parsing_canonical_form(schema))


def fingerprint(schema: AnySchema) -> bytes:
    """CRC-64-AVRO (Rabin) of the parsing canonical form: 8 bytes, little-endian as in Java."""
    return bytes.fromhex(_fastavro_fingerprint(canonical_form(schema), "CRC-64-AVRO"))


def sync_marker(kind: RecordKind) -> bytes:
    """A container sync marker derived from the schema, so two runs write identical files.

    (fastavro defaults to a random one.)
    """
    digest = hashlib.sha256(canonical_form(load_schema(kind)).encode("utf-8")).digest()
    return digest[:16]


@cache
def _known_writers(kind: RecordKind) -> dict[bytes, Schema]:
    schemas = (load_schema(kind), *history_schemas(kind))
    return {fingerprint(s): s for s in schemas}


def schema_by_fingerprint(kind: RecordKind, fp: bytes) -> Schema:
    """The writer schema (current or historical) with this fingerprint, else UNKNOWN_SCHEMA."""
    try:
        return _known_writers(kind)[fp]
    except KeyError:
        raise DecodeError(
            ErrorType.UNKNOWN_SCHEMA,
            f"no {kind.schema_name} writer schema has fingerprint {fp.hex()}",
        ) from None
