"""`schemas/` is one set (issue 12, item 3): each named type defined once, Apache Avro's own
Java tools compile it, the resolved schemas keep their canonical forms and fingerprints,
and each current schema reads what its older versions in `schemas/history/` wrote."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from processor.codec.kinds import RecordKind
from processor.codec.schemas import (
    SHARED_TYPES_FILE,
    canonical_form,
    fingerprint,
    history_schemas,
    load_schema,
    resolved,
    schema_dir,
)
from processor.devkafka.java import find_java
from tests.tools.avro_tools import avro_tools_jar

# Taken from the files before the shared types were split out (commit 545b764).
FORMS: dict[str, Any] = json.loads(Path(__file__).with_name("schema_forms.json").read_text())


def current_files() -> list[Path]:
    return sorted(schema_dir().glob("*.avsc"))


def _named(value: Any, found: Counter[str], namespace: str = "aor.v1") -> None:
    if isinstance(value, list):
        for item in value:
            _named(item, found, namespace)
    elif isinstance(value, dict):
        if value.get("type") in ("record", "enum", "fixed"):
            namespace = value.get("namespace", namespace)
            found[f"{namespace}.{value['name']}"] += 1
        for key in ("type", "items", "values", "fields"):
            if key in value:
                _named(value[key], found, namespace)


def test_each_named_type_is_defined_once() -> None:
    found: Counter[str] = Counter()
    for path in current_files():
        _named(json.loads(path.read_text()), found)
    assert {name for name, n in found.items() if n > 1} == set()
    assert {"aor.v1.PlanRef", "aor.v1.PlanType", "aor.v1.Channel"} <= set(found)
    assert current_files()[0].name == SHARED_TYPES_FILE  # sorts first, as tools read them


@pytest.mark.parametrize("kind", list(RecordKind))
def test_resolved_schemas_keep_their_forms_and_fingerprints(kind: RecordKind) -> None:
    schema = load_schema(kind)
    was = FORMS[kind.record_name]
    assert fingerprint(schema).hex() == was["fingerprint"]
    assert canonical_form(schema) == was["canonical_form"]
    # The whole parsed schema, docs included: Avro file headers are unchanged too.
    assert json.dumps(schema, sort_keys=True) == was["parsed"]
    assert [fingerprint(h).hex() for h in history_schemas(kind)] == was[
        "history_fingerprints"]


def _apache(schema: Any) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(schema))


def test_each_current_schema_reads_its_older_versions() -> None:
    """BACKWARD, as the Schema Registry checks it, by Apache Avro's own checker."""
    checker = ReaderWriterCompatibilityChecker()
    checked = 0
    for kind in RecordKind:
        reader = _apache(resolved(schema_dir() / f"{kind.record_name}.avsc"))
        for old in sorted((schema_dir() / "history").glob(f"{kind.record_name}.v*.avsc")):
            result = checker.get_compatibility(reader, _apache(json.loads(old.read_text())))
            assert result.compatibility is SchemaCompatibilityType.compatible, (
                old.name, result.messages)
            checked += 1
    assert checked == 3


def test_the_checker_refuses_a_reader_that_cannot_read_the_writer() -> None:
    reader = resolved(schema_dir() / "Enrollment.avsc")
    writer = {**reader, "fields": [f for f in reader["fields"] if f["name"] != "member_state"]}
    result = ReaderWriterCompatibilityChecker().get_compatibility(_apache(reader),
                                                                  _apache(writer))
    assert result.compatibility is SchemaCompatibilityType.incompatible
    assert "member_state" in str(result.messages)


def test_apache_avro_tools_compile_the_schema_set(tmp_path: Path) -> None:
    """`java -jar avro-tools-1.12.0.jar compile schema schemas/*.avsc OUT`, as a Java or
    Maven build of the outputs' consumers would."""
    java = find_java().executable
    done = subprocess.run(
        [str(java), "-jar", str(avro_tools_jar()), "compile", "schema",
         *map(str, current_files()), str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    classes = sorted(p.stem for p in (tmp_path / "aor" / "v1").glob("*.java"))
    assert {kind.record_name for kind in RecordKind} | {"PlanRef", "PlanType", "Channel"} <= set(
        classes)
