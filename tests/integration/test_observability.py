"""What an operator sees of a running instance: /readyz, /healthz and the Prometheus
metrics after processing, a clean SIGTERM, and logs free of member ids and secrets."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from processor.config import load_settings
from processor.devkafka.net import free_port
from processor.kafka.clients import REDACTED, client_config, redacted
from tests.http_probe import get
from tests.integration.harness import (
    Deployment,
    RawRecord,
    generate,
    log_events,
    produce_raw,
    terminate,
    wait_for,
)

pytestmark = pytest.mark.kafka

SECRET = "s3cr3t-do-not-log-7f1c"
OUTCOMES = {"ASSIGNED", "RETAINED", "TRANSFERRED", "RELEASED", "HOUSE"}


@dataclass
class Running:
    app: Deployment
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    counts: dict[str, int]


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 300, seed=61)


def scrape(port: int) -> Samples:
    status, body = get(port, "/metrics")
    assert status == 200, body
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(ls)[label] for (n, ls) in samples if n == name and label in dict(ls)}


@pytest.fixture
def running(kafka_bootstrap: str, history: Path, tmp_path: Path
            ) -> Iterator[Running]:
    """An instance with its metrics on a free port, over the history plus one poison
    record, with a secret in AOR_KAFKA_EXTRA (PLAINTEXT ignores it)."""
    app = Deployment(kafka_bootstrap,
                     extra_env={"AOR_KAFKA_EXTRA": json.dumps({"sasl.password": SECRET})})
    manifest = app.setup(history)
    produce_raw(kafka_bootstrap, [RawRecord(app.topic("enrollments"), b"\x00not avro",
                                            b"poison")])
    port, log = free_port(), tmp_path / "run.log"
    process = app.start("--metrics-port", str(port), log=log)
    try:
        yield Running(app, process, port, log, manifest["counts"])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_metrics_health_and_a_clean_stop(running: Running) -> None:
    app, port, log, counts = running.app, running.port, running.log, running.counts
    wait_for(lambda: get(port, "/readyz")[0] == 200, 60, "/readyz never answered 200")
    assert get(port, "/healthz") == (200, "ok\n")

    good = counts["enrollments"] + counts["plan-changes"]
    enrollments, plan_changes = app.topic("enrollments"), app.topic("plan-changes")

    def decided() -> bool:
        samples = scrape(port)
        return (total(samples, "aor_decisions_total") == good
                and total(samples, "aor_dead_letters_total") >= 1)
    wait_for(decided, 90, "the metrics never showed every event decided")
    time.sleep(5.5)  # lag is measured every 5 s: one measurement after the work is done
    samples = scrape(port)

    assert total(samples, "aor_records_in_total", topic=enrollments) >= counts["enrollments"]
    assert total(samples, "aor_records_in_total", topic=plan_changes) >= counts["plan-changes"]
    assert label_values(samples, "aor_decisions_total", "outcome") <= OUTCOMES
    assert total(samples, "aor_decisions_total", outcome="ASSIGNED") > 0
    assert total(samples, "aor_transactions_total", result="committed") > 0
    assert total(samples, "aor_transactions_total", result="aborted") == 0
    count = total(samples, "aor_transaction_seconds_count")
    assert count == total(samples, "aor_transactions_total", result="committed")
    assert total(samples, "aor_transaction_seconds_bucket", le="+Inf") == count
    assert 0 < total(samples, "aor_transaction_seconds_sum") < count * 10
    assert label_values(samples, "aor_consumer_lag", "topic") == {enrollments, plan_changes}
    assert total(samples, "aor_dead_letters_total", error_type="UNKNOWN_SCHEMA") == 1
    assert total(samples, "aor_records_out_total", topic=app.topic("assignments")) >= good
    assert total(samples, "aor_assigned_partitions") == app.partitions
    assert total(samples, "aor_agent_snapshots") == counts["agent-status"]
    assert 0 < total(samples, "aor_members") <= good
    assert abs(total(samples, "aor_last_loop_timestamp_seconds") - time.time()) < 30
    # Labels are topics, outcomes and error types: never a member or agent id.
    assert not [key for key in samples if any(v.startswith(("mbr-", "agt-"))
                                              for _, v in key[1])]
    assert get(port, "/healthz")[0] == 200
    assert get(port, "/nowhere")[0] == 404

    assert terminate(running.process) == 0, log.read_text()[-3000:]
    # The whole run's INFO log: the expected events, no member id, no secret.
    text = log.read_text()
    events = {e["event"] for e in log_events(log)}
    assert {"run.started", "agent_table.bootstrapped", "partitions.assigned",
            "partition.restored", "run.stopping", "run.finished"} <= events
    assert "mbr-" not in text
    assert SECRET not in text


def test_secrets_are_redacted_from_client_configs() -> None:
    settings = load_settings(bootstrap_servers="localhost:9092", sasl_password="pw-1",
                             ssl_key_password="pw-2",
                             kafka_extra={"sasl.password": SECRET, "sasl.jaas.config": "j",
                                          "socket.timeout.ms": "30000"})
    config = client_config(settings)
    assert config["sasl.password"] == SECRET  # kafka_extra wins, for librdkafka only
    safe = redacted(config)
    assert safe["sasl.password"] == safe["ssl.key.password"] == REDACTED
    assert safe["sasl.jaas.config"] == REDACTED
    assert safe["socket.timeout.ms"] == "30000"
    assert safe["bootstrap.servers"] == "localhost:9092"
    assert not {SECRET, "pw-1", "pw-2"} & {str(v) for v in safe.values()}
    assert "pw-1" not in repr(settings) and "pw-2" not in repr(settings)
