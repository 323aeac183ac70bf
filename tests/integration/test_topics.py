"""``topics create`` against the session broker: idempotent, configured as the contract
says, and refusing topics that cannot be co-partitioned."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ResourceType,
)

from processor.config import Settings
from processor.devkafka.topics import create_topic
from processor.kafka.cli import EXIT_REFUSED, add_kafka_parsers, run_topics
from processor.kafka.topics import CoPartitioningError, TopicStatus, create_topics
from tests.integration.edge_settings import unique_settings

pytestmark = pytest.mark.kafka

TIMEOUT = 30.0


def partitions_of(admin: AdminClient, names: list[str]) -> dict[str, int]:
    metadata = admin.list_topics(timeout=TIMEOUT)
    return {n: len(metadata.topics[n].partitions) for n in names if n in metadata.topics}


def configs_of(admin: AdminClient, name: str) -> dict[str, str]:
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)],
                                     request_timeout=TIMEOUT)
    (future,) = futures.values()
    return {k: str(e.value) for k, e in future.result(timeout=TIMEOUT).items()}


def all_topics(settings: Settings) -> list[str]:
    return [settings.enrollments_topic, settings.plan_changes_topic,
            settings.agent_status_topic, settings.assignments_topic,
            settings.adjustments_topic, settings.dead_letters_topic,
            settings.changelog_topic]


def test_create_is_idempotent_and_sets_the_contract_configs(
        kafka_bootstrap: str, unique_topic: Callable[[str], str]) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic)
    first = create_topics(settings, partitions=3)
    assert set(first.created) == set(all_topics(settings)) and not first.existing
    assert not first.all_warnings()

    second = create_topics(settings, partitions=3)
    assert not second.created and set(second.existing) == set(all_topics(settings))
    assert not second.all_warnings()
    status = {t.name: t for t in second.topics}
    assert status[settings.agent_status_topic].config == {"cleanup.policy": "delete",
                                                          "retention.ms": "-1"}

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert set(partitions_of(admin, all_topics(settings)).values()) == {3}
    agent_status = configs_of(admin, settings.agent_status_topic)
    assert agent_status["cleanup.policy"] == "delete"
    assert agent_status["retention.ms"] == "-1"
    assert configs_of(admin, settings.changelog_topic)["cleanup.policy"] == "compact"
    assert configs_of(admin, settings.enrollments_topic)["cleanup.policy"] == "delete"


def test_existing_input_partition_count_wins(
        kafka_bootstrap: str, unique_topic: Callable[[str], str]) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic)
    create_topic(kafka_bootstrap, settings.enrollments_topic, 2)
    create_topic(kafka_bootstrap, settings.agent_status_topic, 1,
                 config={"cleanup.policy": "compact"})
    report = create_topics(settings, partitions=4)
    outcome = {t.name: t for t in report.topics}
    assert outcome[settings.enrollments_topic].status is TopicStatus.EXISTS
    assert outcome[settings.plan_changes_topic].status is TopicStatus.CREATED
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert partitions_of(admin, all_topics(settings)) == {
        settings.enrollments_topic: 2, settings.plan_changes_topic: 2,
        settings.changelog_topic: 2, settings.agent_status_topic: 1,
        settings.assignments_topic: 4, settings.adjustments_topic: 4,
        settings.dead_letters_topic: 4}
    warnings = "\n".join(report.all_warnings())
    assert "requested 4 partitions, but existing input topics have 2" in warnings
    # A compacted agent-status topic is reported, never altered.
    assert f"{settings.agent_status_topic}: cleanup.policy='compact'" in warnings
    assert configs_of(admin, settings.agent_status_topic)["cleanup.policy"] == "compact"


def test_refuses_inputs_with_different_partition_counts(
        kafka_bootstrap: str, unique_topic: Callable[[str], str]) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic)
    create_topic(kafka_bootstrap, settings.enrollments_topic, 2)
    create_topic(kafka_bootstrap, settings.plan_changes_topic, 3)
    with pytest.raises(CoPartitioningError, match="co-partitioned"):
        create_topics(settings, partitions=2)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert set(partitions_of(admin, all_topics(settings))) == {
        settings.enrollments_topic, settings.plan_changes_topic}  # nothing created

    parser = argparse.ArgumentParser()
    add_kafka_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["topics", "create", "--bootstrap-servers", kafka_bootstrap])
    assert run_topics(args, settings) == EXIT_REFUSED


def test_refuses_a_changelog_with_another_partition_count(
        kafka_bootstrap: str, unique_topic: Callable[[str], str]) -> None:
    settings = unique_settings(kafka_bootstrap, unique_topic)
    create_topic(kafka_bootstrap, settings.enrollments_topic, 2)
    create_topic(kafka_bootstrap, settings.plan_changes_topic, 2)
    create_topic(kafka_bootstrap, settings.changelog_topic, 3,
                 config={"cleanup.policy": "compact"})
    with pytest.raises(CoPartitioningError, match="changelog"):
        create_topics(settings, partitions=2)
