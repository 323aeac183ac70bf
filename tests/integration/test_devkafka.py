"""processor.devkafka itself: its pure parts, LocalKafka's restart and crash recovery, and
the ``dev-kafka`` command's background broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from processor.devkafka import config, docker_engine, jars, java, paths, provider, state
from processor.devkafka.broker import LocalKafka, log_errors
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.net import split_address
from processor.devkafka.readiness import metadata_ok
from processor.devkafka.topics import create_topic
from processor.devkafka.versions import KAFKA_VERSION, LOG4J_VERSION

# -- pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('java version "1.8.0_402"', 8),
    ('openjdk version "25" 2025-09-16', 25),
    ('openjdk version "21-ea" 2023-09-19', 21),
    ("no version here", None),
])
def test_java_major_version_is_parsed(output: str, major: int | None) -> None:
    assert java.parse_major(output) == major


def test_cluster_ids_are_kafka_uuids() -> None:
    ids = {config.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_broker_properties_make_a_single_node_kraft_cluster(tmp_path: Path) -> None:
    props = config.broker_properties(9092, 9093, tmp_path, extra={"num.partitions": "3"})
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["share.coordinator.state.topic.min.isr"] == "1"
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "3"
    assert props["log.dirs"] == str(tmp_path)
    assert "log.dirs=" + str(tmp_path) + "\n" in config.render_properties(props)


def test_container_env_uses_the_image_variables() -> None:
    env = config.container_env("localhost:32000")
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://localhost:32000"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert all(key.startswith("KAFKA_") for key in env)


def test_pom_pins_kafka_and_the_slf4j_1_binding() -> None:
    pom = jars.pom_xml()
    assert f"<artifactId>kafka_2.13</artifactId>\n      <version>{KAFKA_VERSION}<" in pom
    assert (f"<artifactId>log4j-slf4j-impl</artifactId>\n      <version>{LOG4J_VERSION}<"
            in pom)


def test_cache_paths_follow_the_environment(tmp_path: Path) -> None:
    env = {paths.CACHE_ENV: str(tmp_path)}
    assert paths.libs_dir("9.9.9", env) == tmp_path / "kafka-9.9.9" / "libs"
    assert paths.cache_root({"XDG_CACHE_HOME": "/x"}) == Path("/x/aor-processor")


def test_split_address() -> None:
    assert split_address("127.0.0.1:9092,other:9093") == ("127.0.0.1", 9092)
    assert split_address("[::1]:9092") == ("::1", 9092)


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[str]:
    """A Unix socket that answers one request like a Docker engine's /_ping."""
    path = str(tmp_path / "docker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()

    def answer() -> None:
        connection, _ = server.accept()
        with connection:
            request = connection.recv(4096)
            assert request.startswith(b"GET /_ping ")
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield f"unix://{path}"
    server.close()
    thread.join(timeout=5)


def test_docker_engine_is_detected_by_a_ping(fake_engine: str, tmp_path: Path) -> None:
    assert docker_engine.docker_engine_answers({"DOCKER_HOST": fake_engine})
    missing = f"unix://{tmp_path / 'none.sock'}"
    assert not docker_engine.docker_engine_answers({"DOCKER_HOST": missing})
    assert not docker_engine.ping("tcp://127.0.0.1:1", timeout=0.5)


def test_provider_prefers_the_environment(tmp_path: Path) -> None:
    no_engine = {"DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}"}
    assert provider.choose_source(no_engine) is provider.KafkaSource.LOCAL
    assert provider.choose_source({**no_engine, "KAFKA_BOOTSTRAP_SERVERS": "h:1"}
                                  ) is provider.KafkaSource.ENV
    assert provider.choose_source({"AOR_KAFKA_PROVIDER": "local",
                                   "KAFKA_BOOTSTRAP_SERVERS": "h:1"}
                                  ) is provider.KafkaSource.LOCAL
    with pytest.raises(DevKafkaError, match="AOR_KAFKA_PROVIDER"):
        provider.choose_source({"AOR_KAFKA_PROVIDER": "podman"})


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    assert state.read_state(path) is None
    recorded = state.DevKafkaState(
        pid=1, bootstrap_servers="127.0.0.1:1", data_dir="/d", properties_file="/d/p",
        log_file="/d/l", kafka_version=KAFKA_VERSION, started_at="2026-01-01T00:00:00+00:00")
    state.write_state(path, recorded)
    assert state.read_state(path) == recorded
    path.write_text("{not json")
    assert state.read_state(path) is None


def test_broker_log_errors_come_from_the_last_run(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("==== processor.devkafka: java a\n[t] ERROR old (x)\nold cause\n"
                   "==== processor.devkafka: java b\n[t] INFO fine (x)\n"
                   "[t] ERROR bind failed (x)\njava.net.BindException: in use\n")
    assert log_errors(log) == ["[t] ERROR bind failed (x)\n    java.net.BindException: in use"]


# -- real brokers -----------------------------------------------------------------------


def _needs_java() -> None:
    try:
        java.find_java()
    except DevKafkaError as error:
        pytest.skip(str(error))


def _produce(bootstrap: str, topic: str, values: list[str]) -> None:
    with Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True}) as producer:
        for value in values:
            producer.produce(topic, value=value.encode())
        assert producer.flush(30) == 0


def _read(bootstrap: str, topic: str, count: int) -> list[str]:
    found: list[str] = []
    with Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader",
                   "auto.offset.reset": "earliest", "enable.auto.commit": False}) as consumer:
        consumer.assign([TopicPartition(topic, 0, 0)])
        for _ in range(120):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                value = message.value()
                assert isinstance(value, bytes)
                found.append(value.decode())
            if len(found) >= count:
                break
    return found


@pytest.mark.kafka
def test_local_kafka_keeps_its_data_across_restart_and_crash(
        tmp_path: Path, unique_topic: Callable[[str], str]) -> None:
    _needs_java()
    topic = unique_topic("durable")
    with LocalKafka(tmp_path / "kafka", extra_properties=config.FAST_SESSION_EXPIRY) as kafka:
        address = kafka.bootstrap_servers
        create_topic(address, topic)
        _produce(address, topic, ["before-restart"])
        assert kafka.restart() == address
        _produce(address, topic, ["after-restart"])
        kafka.kill()
        assert not kafka.is_running()
        assert kafka.restart() == address
        assert _read(address, topic, 2) == ["before-restart", "after-restart"]
        assert "Kafka version: " + KAFKA_VERSION in kafka.log_file.read_text()
    assert not kafka.is_running()
    assert (tmp_path / "kafka" / "kraft-logs" / "meta.properties").is_file()


def _dev_kafka(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "processor.devkafka", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.kafka
def test_dev_kafka_command_runs_a_background_broker(tmp_path: Path) -> None:
    _needs_java()
    home = jars.ensure_jars()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / home.parent.name).symlink_to(home.parent)  # the jars, without a new fetch
    env = {**os.environ, paths.CACHE_ENV: str(cache)}
    data = tmp_path / "data"
    try:
        started = _dev_kafka(env, "start", "--data-dir", str(data))
        assert started.returncode == 0, started.stderr
        address = started.stdout.strip().splitlines()[-1]
        assert metadata_ok(address)  # the broker outlived the command that started it
        assert _dev_kafka(env, "status").returncode == 0
        again = _dev_kafka(env, "start")
        assert again.stdout.strip().splitlines()[-1] == address
        assert "already running" in again.stderr
        create_topic(address, "kept")

        assert _dev_kafka(env, "stop").returncode == 0
        assert not metadata_ok(address, timeout=1.0)
        assert _dev_kafka(env, "status").returncode == 3

        restarted = _dev_kafka(env, "start", "--data-dir", str(data))
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout.strip().splitlines()[-1] == address  # same port again
        with AdminClient({"bootstrap.servers": address}) as admin:
            assert "kept" in admin.list_topics(timeout=10).topics
    finally:
        stopped = _dev_kafka(env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not (cache / "dev-kafka" / "state.json").exists()
