"""The Schema Registry adapter for ``wire_format=confluent``.

Subjects follow the TopicNameStrategy: ``<topic>-value``. ``register_all`` registers each
kind's ``schemas/history/`` writer schemas (oldest first) and then its current schema,
as written in the ``.avsc`` files (logical types, defaults and docs included), so old
producers' ids resolve and the current schema is the subject's latest version. Lookups
by id are cached (ids are immutable in a registry).

Only tested against confluent-kafka's in-memory mock registry (``schema_registry_url``
starting with ``mock://``, which ``SchemaRegistryClient.new_client`` turns into a
``MockSchemaRegistryClient``): no real Schema Registry runs on the test machines yet,
so compatibility checks and HTTP errors of a real one are not exercised here.

Needs confluent-kafka's ``schemaregistry`` extra (httpx, authlib, ...); it is imported
when an adapter is made, so the rest of ``processor.kafka`` works without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fastavro import parse_schema

from processor.codec.kinds import RecordKind
from processor.codec.schemas import Schema, resolved, schema_dir
from processor.codec.wire import WireCodec
from processor.config import Settings, WireFormat
from processor.kafka.topics import topic_for

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

HTTP_NOT_FOUND = 404


class RegistryError(RuntimeError):
    """The Schema Registry failed or refused a request (not: "no such schema id")."""


def subject_for(topic: str) -> str:
    """TopicNameStrategy subject of a topic's values."""
    return f"{topic}-value"


def schema_texts(kind: RecordKind) -> tuple[str, ...]:
    """The ``.avsc`` texts of a kind's writer schemas: history oldest first, then current.
    The current file names the shared types (schemas/0-shared-types.avsc): it is sent
    with them inlined, self-contained, as it was written before they were shared."""
    folder = schema_dir()
    history = sorted((folder / "history").glob(f"{kind.record_name}.v*.avsc"), key=_version)
    return (*(p.read_text(encoding="utf-8") for p in history),
            json.dumps(resolved(folder / f"{kind.record_name}.avsc"), indent=2))


def _version(path: Path) -> int:
    return int(path.name.removesuffix(".avsc").rsplit(".v", 1)[1])


class RegistryAdapter:
    """``codec.wire.SchemaRegistry`` backed by a confluent-kafka ``SchemaRegistryClient``."""

    def __init__(self, client: SchemaRegistryClient, subjects: Mapping[RecordKind, str],
                 *, auto_register: bool = False) -> None:
        self._client = client
        self._subjects = dict(subjects)
        self._auto_register = auto_register
        self._ids: dict[RecordKind, int] = {}
        self._schemas: dict[int, Schema] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, auto_register: bool = False,
                      client: SchemaRegistryClient | None = None) -> RegistryAdapter:
        """An adapter for the settings' topics and ``schema_registry_url`` (or ``client``)."""
        if client is None:
            if not settings.schema_registry_url:
                raise ValueError("wire_format=confluent needs schema_registry_url "
                                 "(AOR_SCHEMA_REGISTRY_URL)")
            from confluent_kafka.schema_registry import SchemaRegistryClient

            client = SchemaRegistryClient.new_client({"url": settings.schema_registry_url})
        subjects = {kind: subject_for(topic_for(settings, kind)) for kind in RecordKind}
        return cls(client, subjects, auto_register=auto_register)

    def __enter__(self) -> RegistryAdapter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def subject(self, kind: RecordKind) -> str:
        return self._subjects[kind]

    def register_all(self, kinds: Iterable[RecordKind] = tuple(RecordKind),
                     ) -> dict[RecordKind, int]:
        """Register history then current schemas of ``kinds``; the current schemas' ids.
        Registering an already registered schema returns its id: safe to repeat."""
        ids = {}
        for kind in kinds:
            for text in schema_texts(kind):
                schema_id = self._register(kind, text)
            ids[kind] = self._ids[kind] = schema_id
        return ids

    def schema_id(self, kind: RecordKind) -> int:
        """The id of the kind's current schema under its subject: registered on first use
        with ``auto_register``, else looked up (RegistryError when not registered)."""
        found = self._ids.get(kind)
        if found is not None:
            return found
        text = schema_texts(kind)[-1]
        if self._auto_register:
            schema_id = self._register(kind, text)
        else:
            from confluent_kafka.schema_registry import Schema as RegistrySchema

            try:
                registered = self._client.lookup_schema(self.subject(kind),
                                                        RegistrySchema(text, "AVRO"))
            except Exception as exc:
                raise RegistryError(
                    f"{kind.schema_name} is not registered under {self.subject(kind)}: {exc} "
                    f"(register it first, e.g. with `load`)") from exc
            schema_id = _int_id(registered.schema_id)
        self._ids[kind] = schema_id
        return schema_id

    def writer_schema(self, schema_id: int) -> Schema | None:
        """The parsed schema with this id; None when the registry does not know the id."""
        found = self._schemas.get(schema_id)
        if found is not None:
            return found
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            registered = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == HTTP_NOT_FOUND:
                return None
            raise RegistryError(f"schema id {schema_id}: {exc}") from exc
        if registered.schema_type not in (None, "AVRO") or registered.schema_str is None:
            return None
        try:
            parsed: Any = parse_schema(json.loads(registered.schema_str))
        except Exception:  # fastavro raises many types for a schema it cannot use
            return None
        if not isinstance(parsed, dict):
            return None
        self._schemas[schema_id] = parsed
        return parsed

    def _register(self, kind: RecordKind, text: str) -> int:
        from confluent_kafka.schema_registry import Schema as RegistrySchema

        try:
            return _int_id(self._client.register_schema(self.subject(kind),
                                                        RegistrySchema(text, "AVRO")))
        except Exception as exc:
            raise RegistryError(f"could not register {kind.schema_name} under "
                                f"{self.subject(kind)}: {exc}") from exc


def _int_id(value: object) -> int:
    if not isinstance(value, int):
        raise RegistryError(f"the Schema Registry returned no schema id ({value!r})")
    return value


def wire_codec(settings: Settings, *, auto_register: bool = False) -> WireCodec:
    """The WireCodec the settings ask for (a registry adapter in confluent mode)."""
    if settings.wire_format is WireFormat.FINGERPRINT:
        return WireCodec(WireFormat.FINGERPRINT)
    return WireCodec(WireFormat.CONFLUENT,
                     RegistryAdapter.from_settings(settings, auto_register=auto_register))
