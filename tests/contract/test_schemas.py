"""The .avsc files implement contract.md exactly: names, order, types, optionality."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest

from processor.codec.fields import compile_record
from processor.codec.kinds import INPUT_KINDS, OUTPUT_KINDS, FileFormat, RecordKind
from processor.codec.records import to_record
from processor.codec.schemas import (
    SHARED_TYPES_FILE,
    fingerprint,
    history_schemas,
    load_schema,
    resolved,
    schema_by_fingerprint,
    schema_dir,
)
from tests.contract.contract_samples import FULL

# contract.md, "Records", transcribed by hand: name and type of every field in
# order. `T?` is the union ["null", T] with default null.
EXPECTED_FIELDS: dict[RecordKind, list[tuple[str, str]]] = {
    RecordKind.ENROLLMENT: [
        ("event_id", "string"),
        ("occurred_at", "timestamp"),
        ("recorded_at", "timestamp"),
        ("member_id", "string"),
        ("member_state", "string"),
        ("plan", "PlanRef"),
        ("effective_date", "date"),
        ("writing_agent_id", "string?"),
    ],
    RecordKind.PLAN_CHANGE: [
        ("event_id", "string"),
        ("occurred_at", "timestamp"),
        ("recorded_at", "timestamp"),
        ("member_id", "string"),
        ("member_state", "string"),
        ("from_plan", "PlanRef?"),
        ("to_plan", "PlanRef"),
        ("effective_date", "date"),
        ("channel", "Channel"),
        ("facilitating_agent_id", "string?"),
        ("facilitating_agency_id", "string?"),
    ],
    RecordKind.AGENT_STATUS: [
        ("snapshot_id", "string"),
        ("agent_id", "string"),
        ("effective_at", "timestamp"),
        ("recorded_at", "timestamp"),
        ("affiliation", "Affiliation"),
        ("agency_id", "string?"),
        ("status", "AgentStatus"),
        ("licensed_states", "[string]"),
        ("appointed_states", "[string]"),
        ("certified_plan_years", "[int]"),
    ],
    RecordKind.ASSIGNMENT: [
        ("decision_id", "string"),
        ("revision", "int"),
        ("supersedes_decision_id", "string?"),
        ("source_event_id", "string"),
        ("source_event_type", "EventType"),
        ("member_id", "string"),
        ("member_state", "string"),
        ("plan", "PlanRef"),
        ("effective_date", "date"),
        ("occurred_at", "timestamp"),
        ("decided_as_of", "timestamp"),
        ("outcome", "Outcome"),
        ("reason", "string"),
        ("previous_agent_id", "string?"),
        ("agent_of_record_id", "string?"),
        ("facilitating_agent_id", "string?"),
        ("channel", "Channel?"),
        ("requires_review", "boolean"),
        ("rule_trace", "[RuleCheck]"),
        ("policy_version", "string"),
    ],
    RecordKind.ADJUSTMENT: [
        ("adjustment_id", "string"),
        ("decision_id", "string"),
        ("member_id", "string"),
        ("agent_id", "string"),
        ("kind", "AdjustmentKind"),
        ("basis", "Basis?"),
        ("plan", "PlanRef"),
        ("effective_date", "date"),
        ("months", "int?"),
        ("annual_amount", "money?"),
        ("amount", "money?"),
        ("schedule_region", "string?"),
        ("reverses_adjustment_id", "string?"),
        ("policy_version", "string"),
    ],
    RecordKind.DEAD_LETTER: [
        ("source", "string"),
        ("partition", "int?"),
        ("offset", "long?"),
        ("key", "bytes?"),
        ("value", "bytes?"),
        ("error_type", "string"),
        ("error_message", "string"),
        ("failed_at", "timestamp"),
    ],
}
EXPECTED_NAMED: dict[str, list[tuple[str, str]] | list[str]] = {
    "PlanRef": [("plan_id", "string"), ("plan_type", "PlanType"), ("plan_year", "int")],
    "RuleCheck": [
        ("rule", "string"),
        ("agent_id", "string?"),
        ("passed", "boolean"),
        ("snapshot_id", "string?"),
        ("detail", "string"),
    ],
    "PlanType": ["MA", "MAPD", "PDP"],
    "Channel": [
        "DEDICATED_PLAN_CHANGE_LINE",
        "CUSTOMER_SERVICE_TRANSFER",
        "INTERNAL_FIELD_SALES",
        "INTERNAL_TELESALES",
        "AGENT_APPLICATION",
        "EXTERNAL_CALL_CENTER",
    ],
    "Affiliation": ["EXTERNAL", "CALL_CENTER", "INTERNAL"],
    "AgentStatus": ["ACTIVE", "SUSPENDED", "TERMINATED"],
    "EventType": ["ENROLLMENT", "PLAN_CHANGE"],
    "Outcome": ["ASSIGNED", "RETAINED", "TRANSFERRED", "RELEASED", "HOUSE"],
    "AdjustmentKind": ["START", "STOP", "REVERSAL"],
    "Basis": ["INITIAL", "RENEWAL"],
}
LOGICAL = {
    ("long", "timestamp-millis"): "timestamp",
    ("int", "date"): "date",
    ("bytes", "decimal"): "money",
}


def raw_schema(kind: RecordKind) -> dict[str, Any]:
    """The .avsc file, with the shared types it names inlined where first used."""
    loaded: dict[str, Any] = resolved(schema_dir() / f"{kind.record_name}.avsc")
    return loaded


class Describer:
    """Turns raw .avsc types into the notation above, collecting named types on the way."""

    def __init__(self) -> None:
        self.named: dict[str, list[tuple[str, str]] | list[str]] = {}

    def fields(self, record: dict[str, Any]) -> list[tuple[str, str]]:
        described = []
        for field in record["fields"]:
            field_type = field["type"]
            if isinstance(field_type, list):
                assert field_type[0] == "null" and len(field_type) == 2, field["name"]
                assert "default" in field and field["default"] is None, field["name"]
                described.append((field["name"], self.type(field_type[1]) + "?"))
            else:
                assert "default" not in field, field["name"]
                described.append((field["name"], self.type(field_type)))
        return described

    def type(self, avro_type: Any) -> str:
        if isinstance(avro_type, str):
            return avro_type.removeprefix("aor.v1.")
        if "logicalType" in avro_type:
            if avro_type["logicalType"] == "decimal":
                assert (avro_type["precision"], avro_type["scale"]) == (12, 2)
            return LOGICAL[(avro_type["type"], avro_type["logicalType"])]
        if avro_type["type"] == "array":
            return f"[{self.type(avro_type['items'])}]"
        name = avro_type["name"]
        assert avro_type.get("namespace", "aor.v1") == "aor.v1", name
        if avro_type["type"] == "enum":
            self.named[name] = avro_type["symbols"]
        else:
            self.named[name] = self.fields(avro_type)
        return str(name)


@pytest.mark.parametrize("kind", list(RecordKind))
def test_schema_matches_contract(kind: RecordKind) -> None:
    schema = raw_schema(kind)
    assert (schema["type"], schema["namespace"], schema["name"]) == (
        "record",
        "aor.v1",
        kind.record_name,
    )
    describer = Describer()
    assert describer.fields(schema) == EXPECTED_FIELDS[kind]
    for name, expected in describer.named.items():
        assert expected == EXPECTED_NAMED[name], name


@pytest.mark.parametrize("kind", list(RecordKind))
def test_schema_parses_with_full_name(kind: RecordKind) -> None:
    assert load_schema(kind)["name"] == kind.schema_name


def test_schema_folder_holds_exactly_the_contract() -> None:
    names = sorted(p.name for p in schema_dir().glob("*.avsc"))
    assert names == sorted([SHARED_TYPES_FILE, *(f"{k.record_name}.avsc" for k in RecordKind)])


def test_schema_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AOR_SCHEMAS_DIR", str(tmp_path))
    assert schema_dir() == tmp_path
    monkeypatch.delenv("AOR_SCHEMAS_DIR")
    assert (schema_dir() / "Enrollment.avsc").is_file()


def test_kinds() -> None:
    assert [k.value for k in INPUT_KINDS] == ["enrollments", "plan-changes", "agent-status"]
    assert [k.value for k in OUTPUT_KINDS] == [
        "assignments",
        "commission-adjustments",
        "dead-letters",
    ]
    assert RecordKind.AGENT_STATUS.schema_name == "aor.v1.AgentStatusSnapshot"
    assert [f.value for f in FileFormat] == ["jsonl", "avro"]
    with pytest.raises(TypeError):
        RecordKind.of(object())


# --- history -------------------------------------------------------------------------


def test_every_input_kind_has_a_history_schema() -> None:
    assert all(history_schemas(kind) for kind in INPUT_KINDS)
    assert not any(history_schemas(kind) for kind in OUTPUT_KINDS)


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_history_schema_lacks_only_optional_fields(kind: RecordKind) -> None:
    current = {f["name"]: f for f in load_schema(kind)["fields"]}
    for old in history_schemas(kind):
        old_fields = {f["name"]: f for f in old["fields"]}
        missing = set(current) - set(old_fields)
        assert missing, "a history schema must differ from the current one"
        assert all(current[name].get("default", "absent") is None for name in missing)
        assert set(old_fields) <= set(current)
        assert all(old_fields[n]["type"] == current[n]["type"] for n in old_fields)


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_history_schema_resolves_to_current(kind: RecordKind) -> None:
    """An old writer's record reads under the current schema with the new fields null."""
    current = load_schema(kind)
    for old in history_schemas(kind):
        record = _example_datum(old)
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, old, record)
        buffer.seek(0)
        resolved = fastavro.schemaless_reader(buffer, old, current)
        assert isinstance(resolved, dict)
        for name in {f["name"] for f in current["fields"]} - set(record):
            assert resolved[name] is None


def _example_datum(schema: dict[str, Any]) -> dict[str, Any]:
    kind = next(k for k in INPUT_KINDS if load_schema(k)["name"] == schema["name"])
    full = to_record(FULL[kind])
    return {f["name"]: full[f["name"]] for f in schema["fields"]}


# --- fingerprints ---------------------------------------------------------------------


def test_fingerprint_is_crc64_avro_little_endian() -> None:
    # Avro specification test vector: fingerprint64("int") = 0x7275d51a3f395c8f.
    assert fingerprint("int") == bytes.fromhex("8f5c393f1ad57572")
    assert len(fingerprint(load_schema(RecordKind.ENROLLMENT))) == 8


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_known_fingerprints_include_history(kind: RecordKind) -> None:
    for schema in (load_schema(kind), *history_schemas(kind)):
        assert schema_by_fingerprint(kind, fingerprint(schema)) is schema


def test_fingerprint_ignores_docs() -> None:
    schema = raw_schema(RecordKind.ENROLLMENT)
    undocumented = {k: v for k, v in schema.items() if k != "doc"}
    assert fingerprint(fastavro.parse_schema(undocumented)) == fingerprint(
        load_schema(RecordKind.ENROLLMENT)
    )


# --- schema and domain must agree -------------------------------------------------------


def _mutated(kind: RecordKind, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    schema = raw_schema(kind)
    change(schema)
    parsed = fastavro.parse_schema(schema)
    assert isinstance(parsed, dict)
    return parsed


def _rename_first_field(schema: dict[str, Any]) -> None:
    schema["fields"][0]["name"] = "id"


def _add_enum_symbol(schema: dict[str, Any]) -> None:
    schema["fields"][5]["type"]["fields"][1]["type"]["symbols"].append("HMO")


def _widen_money(schema: dict[str, Any]) -> None:
    schema["fields"][10]["type"][1]["precision"] = 18


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (RecordKind.ENROLLMENT, _rename_first_field, "differ from the domain"),
        (RecordKind.ENROLLMENT, _add_enum_symbol, "PlanType symbols"),
        (RecordKind.ADJUSTMENT, _widen_money, "decimal(12,2)"),
    ],
)
def test_schema_that_drifts_from_the_domain_is_refused(
    kind: RecordKind, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        compile_record(_mutated(kind, change))
