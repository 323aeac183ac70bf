"""The Grafana dashboard and the Prometheus alert rules, statically: they cover what the
issue asks for and name only metrics that processor.runtime.metrics defines. That the
running processor exports them is tests/integration/test_deploy_metrics.py."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import generate_latest

from processor.runtime.metrics import Metrics
from tests.deploy.manifests import (
    ALERTS,
    REPO,
    alert_rules,
    dashboard,
    dashboard_expressions,
    k8s_object,
    load_yaml_docs,
    monitoring_metric_names,
    promql_metric_names,
)

REQUIRED_ALERTS = {"AorConsumerLagGrowing", "AorDeadLettersAppearing", "AorCorrectionsSpike",
                   "AorNoCommits"}
# lag, throughput, decisions by outcome, dead letters, corrections, transaction latency
REQUIRED_DASHBOARD_METRICS = {"aor_consumer_lag", "aor_records_in_total",
                              "aor_decisions_total", "aor_dead_letters_total",
                              "aor_corrections_total", "aor_transaction_seconds_bucket"}


def test_prometheusrule_holds_exactly_the_plain_rule_files_groups() -> None:
    plain = load_yaml_docs(ALERTS)[0]
    assert set(plain) == {"groups"}
    assert k8s_object("PrometheusRule")["spec"]["groups"] == plain["groups"]


def test_alert_rules_cover_the_issue_and_are_complete() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED_ALERTS
    runbook = (REPO / "RUNBOOK.md").read_text(encoding="utf-8")
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert promql_metric_names(rule["expr"]), f"{rule['alert']} names no metric"
        assert rule["alert"] in runbook, f"RUNBOOK.md does not say what to do on {rule['alert']}"


def test_dashboard_covers_the_issue() -> None:
    board = dashboard()
    assert board["uid"] == "aor-processor"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    used = set().union(*(promql_metric_names(e) for e in dashboard_expressions()))
    assert used >= REQUIRED_DASHBOARD_METRICS
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_monitoring_names_only_metrics_the_processor_defines() -> None:
    from tests.deploy.manifests import exported_sample_names

    defined = exported_sample_names(generate_latest(Metrics().registry).decode(),
                                    declared=True)
    unknown = {name: sorted(where) for name, where in monitoring_metric_names().items()
               if name not in defined}
    assert not unknown, f"metrics not defined by processor/runtime/metrics.py: {unknown}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules_and_their_unit_tests() -> None:
    """promtool (Debian package `prometheus`) parses every PromQL expression and runs
    deploy/prometheus/alerts_test.yaml: the alerts fire, and stay quiet, as designed."""
    for command in (["promtool", "check", "rules", str(ALERTS)],
                    ["promtool", "test", "rules", ALERTS.with_name("alerts_test.yaml").name]):
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=ALERTS.parent)
        assert done.returncode == 0, done.stdout + done.stderr
