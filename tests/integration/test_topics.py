"""``topics create`` against the session broker: idempotent, configured as the contract
says, and refusing topics that cannot be co-partitioned."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ResourceType,
)

from processor.config import InputPartitioner, Settings
from processor.devkafka.topics import create_topic
from processor.kafka.cli import (
    EXIT_KAFKA,
    EXIT_REFUSED,
    add_kafka_parsers,
    run_topics,
    run_topics_check,
)
from processor.kafka.topic_check import check_topics
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
    assert status[settings.agent_status_topic].config == {
        "cleanup.policy": "delete", "retention.ms": "-1", "min.insync.replicas": "1"}

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert set(partitions_of(admin, all_topics(settings)).values()) == {3}
    agent_status = configs_of(admin, settings.agent_status_topic)
    assert agent_status["cleanup.policy"] == "delete"
    assert agent_status["retention.ms"] == "-1"
    assert configs_of(admin, settings.changelog_topic)["cleanup.policy"] == "compact"
    assert configs_of(admin, settings.enrollments_topic)["cleanup.policy"] == "delete"
    # The outputs are the audit trail: kept forever; dead letters ten years (issue 12).
    for output in (settings.assignments_topic, settings.adjustments_topic):
        assert configs_of(admin, output)["retention.ms"] == "-1"
    assert configs_of(admin, settings.dead_letters_topic)["retention.ms"] == str(
        3653 * 24 * 3600 * 1000)
    # min(2, replication factor 1) on every topic.
    assert {configs_of(admin, t)["min.insync.replicas"] for t in all_topics(settings)} == {"1"}


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


def test_create_and_check_flag_a_week_long_output_and_misrouted_keys(
        kafka_bootstrap: str, unique_topic: Callable[[str], str],
        capsys: pytest.CaptureFixture[str]) -> None:
    """An assignments topic made by hand with the broker's usual 7 days, and enrollments
    written by librdkafka's default partitioner (CRC-32), as `load` did before issue 12."""
    settings = unique_settings(kafka_bootstrap, unique_topic)
    create_topic(kafka_bootstrap, settings.assignments_topic, 3,
                 config={"retention.ms": str(7 * 24 * 3600 * 1000)})
    parser = argparse.ArgumentParser()
    add_kafka_parsers(parser.add_subparsers(dest="command"))
    create = parser.parse_args(["topics", "create", "--bootstrap-servers", kafka_bootstrap])
    assert run_topics(create, settings) == EXIT_KAFKA  # created the rest, altered nothing
    assert "retention.ms='604800000', expected '-1'" in capsys.readouterr().err
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert configs_of(admin, settings.assignments_topic)["retention.ms"] == "604800000"

    keys = [f"mbr-{i:07d}".encode() for i in range(300)]
    with Producer({"bootstrap.servers": kafka_bootstrap,
                   "partitioner": "consistent_random"}) as producer:
        for key in keys:
            producer.produce(settings.enrollments_topic, key=key, value=b"{}")
    check = parser.parse_args(["topics", "check", "--bootstrap-servers", kafka_bootstrap])
    assert run_topics_check(check, settings) == EXIT_KAFKA
    out = capsys.readouterr().out
    assert f"DIFFERS {settings.assignments_topic}: retention.ms='604800000'" in out
    assert f"ok      {settings.adjustments_topic}" in out
    report = check_topics(settings)
    enrollments = next(s for s in report.samples if s.topic == settings.enrollments_topic)
    assert enrollments.sampled == len(keys)
    assert enrollments.misplaced[InputPartitioner.CRC32] == 0
    assert enrollments.share(InputPartitioner.MURMUR2) > 0.5
    assert "misrouted under AOR_INPUT_PARTITIONER=murmur2" in out
    # Under the rule the topic was written with, only the output topic differs.
    crc = settings.model_copy(update={"input_partitioner": InputPartitioner.CRC32})
    assert not check_topics(crc).ok
    assert [t for t, problems in check_topics(crc).topics.items() if problems] == [
        settings.assignments_topic]
