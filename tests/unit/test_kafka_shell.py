"""The Kafka shell without a broker: client configuration, redaction, topic specs, and
the command-line wiring."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from processor.config import load_settings
from processor.kafka.cli import (
    CommonFlags,
    add_kafka_parsers,
    kafka_overrides,
    run_dump,
    run_load,
    run_topics,
)
from processor.kafka.clients import client_config, redacted
from processor.kafka.load import timestamp_ms
from processor.kafka.topics import TopicRole, topic_specs


def test_client_config_passes_security_through_and_extra_wins() -> None:
    settings = load_settings(
        bootstrap_servers="b1:9092,b2:9092", security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN", sasl_username="svc", sasl_password=SecretStr("hunter2"),
        ssl_ca_location="/ca.pem", ssl_key_password=SecretStr("k3y"),
        kafka_extra={"socket.timeout.ms": "30000", "security.protocol": "SSL"})
    config = client_config(settings)
    assert config == {
        "bootstrap.servers": "b1:9092,b2:9092", "security.protocol": "SSL",
        "sasl.mechanism": "PLAIN", "sasl.username": "svc", "sasl.password": "hunter2",
        "ssl.ca.location": "/ca.pem", "ssl.key.password": "k3y",
        "socket.timeout.ms": "30000"}
    assert "hunter2" not in repr(settings)


def test_client_config_minimal() -> None:
    assert client_config(load_settings(bootstrap_servers="h:1")) == {"bootstrap.servers": "h:1"}


def test_redacted() -> None:
    config = {"sasl.password": "p", "ssl.key.password": "p", "SASL.JAAS.CONFIG": "x",
              "oauth.client.secret": "s", "sasl.username": "u", "bootstrap.servers": "b"}
    assert redacted(config) == {"sasl.password": "***", "ssl.key.password": "***",
                                "SASL.JAAS.CONFIG": "***", "oauth.client.secret": "***",
                                "sasl.username": "u", "bootstrap.servers": "b"}


def test_topic_specs() -> None:
    settings = load_settings(application_id="app", partitions=4, replication_factor=3)
    specs = {s.name: s for s in topic_specs(settings)}
    assert list(specs) == ["aor.enrollments.v1", "aor.plan-changes.v1", "aor.agent-status.v1",
                           "aor.assignments.v1", "aor.commission-adjustments.v1",
                           "aor.dead-letters.v1", "app.member-state.changelog"]
    assert all(s.partitions == 4 and s.replication == 3 for s in specs.values())
    isr = {"min.insync.replicas": "2"}  # min(2, replication factor 3)
    for kept_forever in ("aor.agent-status.v1", "aor.enrollments.v1", "aor.plan-changes.v1",
                         "aor.assignments.v1", "aor.commission-adjustments.v1"):
        assert specs[kept_forever].config == {"cleanup.policy": "delete", "retention.ms": "-1",
                                              **isr}
    assert specs["aor.dead-letters.v1"].config == {
        "cleanup.policy": "delete", "retention.ms": "315619200000", **isr}
    assert specs["app.member-state.changelog"].config == {"cleanup.policy": "compact", **isr}
    assert specs["app.member-state.changelog"].role is TopicRole.INTERNAL
    assert {n for n, s in specs.items() if s.co_partitioned} == {
        "aor.enrollments.v1", "aor.plan-changes.v1", "app.member-state.changelog"}
    assert {s.partitions for s in topic_specs(settings, 2, 1)} == {2}
    # With one replica, min.insync.replicas is 1; an explicit one above it is refused.
    assert {s.config["min.insync.replicas"] for s in topic_specs(settings, 2, 1)} == {"1"}
    with pytest.raises(ValueError, match="exceeds the replication factor"):
        topic_specs(load_settings(min_insync_replicas=3, replication_factor=2))
    custom = load_settings(output_retention_ms=86_400_000, dead_letter_retention_ms=-1,
                           min_insync_replicas=1, replication_factor=3)
    got = {s.name: s.config for s in topic_specs(custom)}
    assert got["aor.assignments.v1"]["retention.ms"] == "86400000"
    assert got["aor.dead-letters.v1"]["retention.ms"] == "-1"
    assert got["aor.enrollments.v1"]["retention.ms"] == "-1"  # inputs: always kept
    assert {c["min.insync.replicas"] for c in got.values()} == {"1"}
    with pytest.raises(ValueError):
        topic_specs(settings, 0)


def test_timestamp_ms_is_exact() -> None:
    assert timestamp_ms(datetime(2026, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)) == 1768471200123
    assert timestamp_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def _parser(common: CommonFlags) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aor-processor")
    commands = parser.add_subparsers(dest="command", required=True)
    add_kafka_parsers(commands, common)
    return parser


def test_cli_parsers_with_parent_flags() -> None:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--log-level", default="WARNING")
    parser = _parser([parent])
    args = parser.parse_args(["topics", "create", "--partitions", "3",
                              "--replication-factor", "1", "--bootstrap-servers", "h:1",
                              "--log-level", "INFO"])
    assert args.kafka_handler is run_topics and args.log_level == "INFO"
    assert kafka_overrides(args) == {"bootstrap_servers": "h:1", "partitions": 3,
                                     "replication_factor": 1}
    args = parser.parse_args(["load", "--input", "in"])
    assert args.kafka_handler is run_load and args.bootstrap_servers is None
    assert kafka_overrides(args)["bootstrap_servers"] is None
    args = parser.parse_args(["dump", "--output", "out", "--format", "avro"])
    assert args.kafka_handler is run_dump and args.format == "avro"
    with pytest.raises(SystemExit):
        parser.parse_args(["topics"])


def test_cli_parsers_with_a_flag_function(capsys: pytest.CaptureFixture[str]) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config")

    parser = _parser(common)
    assert parser.parse_args(["dump", "--output", "o", "--config", "c"]).config == "c"
    with pytest.raises(SystemExit):
        parser.parse_args(["load", "--help"])
    assert "recorded_at" in capsys.readouterr().out
