"""The one settings object: AOR_ environment variables, an optional TOML file, CLI flags.

Precedence (highest first): CLI flags, environment, config file, defaults.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from processor.domain.model import INTERNAL_CHANNELS, Channel
from processor.domain.settings import ALL_CHECKS, Check


class WireFormat(StrEnum):
    """Avro on Kafka (contract.md "Wire format on Kafka")."""

    FINGERPRINT = "fingerprint"  # plain Avro, CRC-64-AVRO fingerprint in a header
    CONFLUENT = "confluent"  # magic byte 0 + 4-byte schema id, with a Schema Registry


# Ten years of 365.25 days: 42 CFR 422.504(d) keeps records 10 years.
DEAD_LETTER_RETENTION_MS = 3653 * 24 * 3600 * 1000


class InputPartitioner(StrEnum):
    """How the input topics' producers placed each member (AOR_INPUT_PARTITIONER)."""

    MURMUR2 = "murmur2"  # Java's default partitioner; this project's producers
    CRC32 = "crc32"  # librdkafka's default: topics loaded by versions before issue 12
    OFF = "off"  # no check


class Settings(BaseSettings):
    """Every knob of the processor. Frozen: built once by the composition root."""

    model_config = SettingsConfigDict(env_prefix="AOR_", frozen=True, extra="forbid")

    # Policy settings (policy.md "Policy settings").
    policy_name: str = Field("aor-retention", description="readable part of policy_version")
    protected_channels: Annotated[frozenset[Channel], NoDecode] = Field(
        INTERNAL_CHANNELS, description="internal channels whose plan changes keep the AOR")
    eligibility_checks: Annotated[frozenset[Check], NoDecode] = Field(
        frozenset(ALL_CHECKS), description="eligibility checks that apply")
    facilitator_takes_aor: bool = Field(
        True, description="an eligible external facilitator takes the AOR")
    correction_window_days: int = Field(731, ge=0, description="how far back corrections reach")
    schedule_file: Path | None = Field(
        None, description="CSV rate schedule replacing the CMS fair-market-value caps")
    plan_years: Annotated[tuple[int, ...], NoDecode] = Field(
        (2024, 2025, 2026), description="plan years the schedule must cover at start-up")


    # Kafka. Every Kafka command also takes --bootstrap-servers.
    bootstrap_servers: str = Field(
        "localhost:9092",
        validation_alias=AliasChoices("AOR_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS",
                                      "bootstrap_servers"),
        description="Kafka bootstrap servers (AOR_ or KAFKA_BOOTSTRAP_SERVERS)")
    application_id: str = Field(
        "aor-processor", description="consumer group id and prefix of internal topics")
    instance_id: str | None = Field(
        None, description="stable id of this instance: transactional.id and static group "
                          "membership (default: host name)")
    enrollments_topic: str = "aor.enrollments.v1"
    plan_changes_topic: str = "aor.plan-changes.v1"
    agent_status_topic: str = "aor.agent-status.v1"
    assignments_topic: str = "aor.assignments.v1"
    adjustments_topic: str = "aor.commission-adjustments.v1"
    dead_letters_topic: str = "aor.dead-letters.v1"
    partitions: int = Field(6, ge=1, description="partitions of topics the processor creates")
    replication_factor: int = Field(1, ge=1, description="replication of created topics")
    min_insync_replicas: int | None = Field(
        None, ge=1, description="min.insync.replicas of every topic the processor creates "
                                "(default min(2, replication factor))")
    output_retention_ms: int = Field(
        -1, ge=-1, description="retention.ms of the assignments and commission-adjustments "
                               "topics (default -1: kept forever, the audit trail)")
    dead_letter_retention_ms: int = Field(
        DEAD_LETTER_RETENTION_MS, ge=-1,
        description="retention.ms of the dead-letters topic, which holds raw member records "
                    "(default 10 years, the record retention of 42 CFR 422.504(d))")
    wire_format: WireFormat = WireFormat.FINGERPRINT
    schema_registry_url: str | None = Field(
        None, description="Schema Registry URL (wire_format=confluent)")
    # librdkafka security settings, passed through to every client.
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    # Any other librdkafka property, e.g. AOR_KAFKA_EXTRA='{"socket.timeout.ms": "30000"}'.
    # Values are SecretStr: this is where a JAAS config or a password may arrive.
    kafka_extra: dict[str, SecretStr] = Field(default_factory=dict)
    input_partitioner: InputPartitioner = Field(
        InputPartitioner.MURMUR2,
        description="the partitioner the input topics were written with: run and the range "
                    "replay dead-letter (MISPARTITIONED) a record on another partition than "
                    "its key's; crc32 for topics loaded by earlier versions, off to skip")
    # Member state.
    members_in_memory: int = Field(
        100_000, ge=1,
        description="members kept decoded (run: per instance, shared over the partitions it "
                    "holds); beyond it the least "
                    "recently used are kept encoded and compressed: bounded memory for "
                    "millions of members, at some CPU per use of a cold one")
    # Runtime.
    batch_size: int = Field(500, ge=1, description="records per transaction at most")
    max_gate_wait_ms: int = Field(
        5000, ge=0, description="longest an event waits for the agent-status table")
    session_timeout_ms: int = Field(
        45000, ge=1000, description="consumer group session timeout")
    static_membership: bool = Field(
        True, description="group.instance.id = instance_id: a restart keeps its partitions")
    metrics_port: int = Field(9108, ge=0, le=65535,
                              description="Prometheus /metrics and /healthz port (0: off)")

    @property
    def changelog_topic(self) -> str:
        return f"{self.application_id}.member-state.changelog"

    @field_validator("protected_channels", "eligibility_checks", "plan_years", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # Environment variables and flags may give "A,B,C" rather than JSON.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("kafka_extra")
    @classmethod
    def _no_partitioner(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # Every producer uses Java's partitioner, so that members stay co-partitioned with
        # what Java clients, Kafka Connect and Debezium write (processor/kafka/partitioner).
        if "partitioner" in value:
            raise ValueError("AOR_KAFKA_EXTRA may not set 'partitioner': every producer "
                             "uses murmur2_random, Java's default partitioner, so that "
                             "members stay co-partitioned with what other clients write")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get("path")
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


# Set only by `load_settings` for the duration of one construction.
_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; `overrides` are CLI flags that were given (None values dropped)."""
    if config_file is not None and not config_file.is_file():
        raise ValueError(f"config file {config_file} does not exist")
    given = {k: v for k, v in overrides.items() if v is not None}
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**given)
    finally:
        _CONFIG_FILE["path"] = None
