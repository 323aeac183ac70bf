"""`what-if` on a real rules change: the bundled sample decided under rules revision 1
(tests/fixtures/rules-1, a replay kept from before revision 2) against the rules of this
release. The report names the members whose net changed, and the recoveries STOPs now
make."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from processor.codec.files import Decoded, read_records
from processor.codec.kinds import RecordKind
from processor.domain.model import CommissionAdjustment
from processor.domain.settings import PolicySettings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "sample"
RULES_1 = ROOT / "tests" / "fixtures" / "rules-1"
RULES_1_VERSION = "aor-retention+dee7beb2eb"
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AOR_")}
    return subprocess.run([sys.executable, "-m", "processor", *map(str, args)],
                          capture_output=True, text=True, check=False,
                          env={**env, "COLUMNS": "120"})


def nets(folder: Path) -> dict[str, Decimal]:
    path = next(folder.glob("commission-adjustments.*"))
    total: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for item in read_records(path, RecordKind.ADJUSTMENT, NOW):
        assert isinstance(item, Decoded) and isinstance(item.record, CommissionAdjustment)
        total[item.record.member_id] += item.record.amount or Decimal(0)
    return dict(total)


def test_what_if_reports_the_members_whose_net_the_rules_change_moved(tmp_path: Path) -> None:
    for line in (RULES_1 / "inputs.sha256").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest() == digest, name
    done = cli("what-if", "--input", SAMPLE, "--baseline", RULES_1 / "outputs",
               "--output", tmp_path / "what-if")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "what-if" / "summary.json").read_text())
    assert summary["baseline_policy_versions"] == [RULES_1_VERSION]
    assert summary["scenario_policy_versions"] == [PolicySettings().policy_version]
    # Rules revision 1 recovered nothing; revision 2's STOPs do.
    assert Decimal(summary["baseline_recoveries"]) == 0
    assert Decimal(summary["scenario_recoveries"]) < 0
    assert "recovered by STOPs" in done.stdout

    # The members whose net changed, worked out independently from the two sets of outputs.
    replay = cli("replay", "--input", SAMPLE, "--output", tmp_path / "now", "--quiet")
    assert replay.returncode == 0, replay.stderr
    before, after = nets(RULES_1 / "outputs"), nets(tmp_path / "now")
    moved = {m for m in set(before) | set(after)
             if before.get(m, Decimal(0)) != after.get(m, Decimal(0))}
    assert len(moved) > 50
    with (tmp_path / "what-if" / "members.csv").open(newline="") as stream:
        members = {row["member_id"]: row for row in csv.DictReader(stream)}
    assert {m for m, row in members.items() if Decimal(row["delta"])} == moved
    for member in moved:
        assert Decimal(members[member]["delta"]) == (after.get(member, Decimal(0))
                                                     - before.get(member, Decimal(0)))
    assert Decimal(summary["net_delta"]) == sum(after.values()) - sum(before.values())
    html = (tmp_path / "what-if" / "report.html").read_text()
    assert RULES_1_VERSION in html and PolicySettings().policy_version in html
