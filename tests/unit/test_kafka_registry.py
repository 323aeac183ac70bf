"""The Schema Registry adapter against confluent-kafka's in-memory mock registry
(``mock://`` URLs): no real registry runs on the test machines yet."""

from __future__ import annotations

import json
import uuid

import pytest

from processor.codec.kinds import RecordKind
from processor.codec.schemas import canonical_form, history_schemas, load_schema
from processor.codec.wire import WireCodec
from processor.config import Settings, WireFormat, load_settings
from processor.kafka.registry import (
    RegistryAdapter,
    RegistryError,
    schema_texts,
    subject_for,
    wire_codec,
)
from tests.contract.contract_samples import FULL, MINIMAL


def mock_settings() -> Settings:
    return load_settings(wire_format="confluent",
                         schema_registry_url=f"mock://{uuid.uuid4().hex}",
                         enrollments_topic="in.enrollments")


def test_subjects_follow_the_topic_name_strategy() -> None:
    with RegistryAdapter.from_settings(mock_settings()) as adapter:
        assert adapter.subject(RecordKind.ENROLLMENT) == "in.enrollments-value"
        assert adapter.subject(RecordKind.DEAD_LETTER) == "aor.dead-letters.v1-value"
    assert subject_for("t") == "t-value"


def test_schema_texts_are_the_avsc_files_history_first() -> None:
    texts = schema_texts(RecordKind.ENROLLMENT)
    assert len(texts) == 1 + len(history_schemas(RecordKind.ENROLLMENT))
    assert "logicalType" in texts[-1]  # the file, not the canonical form
    from fastavro import parse_schema

    assert canonical_form(parse_schema(json.loads(texts[-1]))) == canonical_form(
        load_schema(RecordKind.ENROLLMENT))


def test_register_all_is_idempotent_and_registers_history_first() -> None:
    with RegistryAdapter.from_settings(mock_settings()) as adapter:
        ids = adapter.register_all()
        assert set(ids) == set(RecordKind)
        assert adapter.register_all() == ids
        client = adapter._client
        versions = client.get_versions(adapter.subject(RecordKind.ENROLLMENT))
        assert len(versions) == 2  # v0 from history, then the current schema
        latest = client.get_latest_version(adapter.subject(RecordKind.ENROLLMENT))
        assert latest.schema_id == ids[RecordKind.ENROLLMENT]


def test_schema_id_without_registration_is_an_error() -> None:
    with RegistryAdapter.from_settings(mock_settings()) as adapter, \
            pytest.raises(RegistryError, match="not registered"):
        adapter.schema_id(RecordKind.ASSIGNMENT)


def test_auto_register_and_lookup_by_id() -> None:
    with RegistryAdapter.from_settings(mock_settings(), auto_register=True) as adapter:
        schema_id = adapter.schema_id(RecordKind.ASSIGNMENT)
        writer = adapter.writer_schema(schema_id)
        assert writer is not None
        assert canonical_form(writer) == canonical_form(load_schema(RecordKind.ASSIGNMENT))
        assert adapter.writer_schema(schema_id) is writer  # cached
        assert adapter.writer_schema(schema_id + 1000) is None


@pytest.mark.parametrize("samples", [FULL, MINIMAL], ids=["full", "minimal"])
def test_confluent_round_trip_through_the_mock_registry(samples: dict[RecordKind, object],
                                                        ) -> None:
    settings = mock_settings()
    with RegistryAdapter.from_settings(settings, auto_register=True) as adapter:
        codec = WireCodec(WireFormat.CONFLUENT, adapter)
        for kind, obj in samples.items():
            value, headers = codec.encode(obj)
            assert int.from_bytes(value[1:5], "big") == adapter.schema_id(kind)
            assert codec.decode(kind, value, headers) == obj


def test_history_ids_decode() -> None:
    import io
    import struct

    from fastavro import schemaless_writer

    from processor.codec.records import to_record

    with RegistryAdapter.from_settings(mock_settings()) as adapter:
        adapter.register_all([RecordKind.PLAN_CHANGE])
        v0_id = adapter._client.get_version(adapter.subject(RecordKind.PLAN_CHANGE), 1).schema_id
        change = FULL[RecordKind.PLAN_CHANGE]
        datum = {k: v for k, v in to_record(change).items() if k != "facilitating_agency_id"}
        buffer = io.BytesIO()
        buffer.write(struct.pack(">bI", 0, v0_id))
        schemaless_writer(buffer, history_schemas(RecordKind.PLAN_CHANGE)[0], datum)
        decoded = WireCodec(WireFormat.CONFLUENT, adapter).decode(
            RecordKind.PLAN_CHANGE, buffer.getvalue(), None)
        assert getattr(decoded, "facilitating_agency_id", "?") is None
        assert getattr(decoded, "event_id", None) == getattr(change, "event_id", "")


def test_wire_codec_from_settings() -> None:
    assert wire_codec(load_settings()).wire_format is WireFormat.FINGERPRINT
    assert wire_codec(mock_settings()).wire_format is WireFormat.CONFLUENT
    with pytest.raises(ValueError, match="schema_registry_url"):
        wire_codec(load_settings(wire_format="confluent"))
