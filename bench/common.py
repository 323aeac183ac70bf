"""Shared pieces of the benchmarks: machine facts, cached histories, result files.

Benchmarks are not part of the test run; each prints its figures and writes them to
`bench/results/<name>.json` (ignored by git, except `bench/results/summary.md`).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / ".cache" / "bench"
PYTHON = sys.executable
CLI = [PYTHON, "-m", "processor"]  # `aor-processor` of this tree and venv


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory and the load average when the figures were taken."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def history_dir(members: int, agents: int, seed: int, malformed_rate: float, fmt: str) -> Path:
    return CACHE / "histories" / f"m{members}-a{agents}-s{seed}-r{malformed_rate}" / fmt


def ensure_history(members: int, agents: int, seed: int, malformed_rate: float,
                   formats: tuple[str, ...] = ("jsonl", "avro")) -> dict[str, Path]:
    """Generate the history once (both formats from one in-memory history) and reuse it."""
    folders = {fmt: history_dir(members, agents, seed, malformed_rate, fmt) for fmt in formats}
    missing = [fmt for fmt, folder in folders.items() if not (folder / "manifest.json").is_file()]
    if missing:
        from processor.generate.history import GeneratorConfig, generate
        from processor.generate.write import write_history

        started = time.perf_counter()
        print(f"generating {members:,} members, {agents:,} agents (seed {seed}) ...",
              flush=True)
        history = generate(GeneratorConfig(members=members, agents=agents, seed=seed,
                                           malformed_rate=malformed_rate))
        for fmt in missing:
            write_history(history, folders[fmt], fmt)
        del history
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    return folders


def input_records(folder: Path) -> int:
    """Records in an input folder, malformed lines included (each is read and decided on)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    counts: dict[str, int] = manifest["counts"]
    malformed = int(manifest["malformed_total"]) if manifest["format"] == "jsonl" else 0
    return sum(counts.values()) + malformed


def run_json(cmd: list[str], env: dict[str, str] | None = None,
             timeout: float | None = None) -> dict[str, Any]:
    """Run a worker that prints one JSON object as its last stdout line."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine(), **payload}
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages now (`uptime`), rounded."""
    return [round(x, 2) for x in os.getloadavg()]


# -- Kafka benches -------------------------------------------------------------------


def topic_env(bootstrap: str, inputs: str, app: str) -> dict[str, str]:
    """Environment for `aor-processor` on the input topics `<inputs>.*` with the
    application id `app` (its outputs are `<app>.*`), metrics off, warnings only."""
    env = dict(os.environ)
    env.update({
        "AOR_BOOTSTRAP_SERVERS": bootstrap,
        "AOR_APPLICATION_ID": app,
        "AOR_ENROLLMENTS_TOPIC": f"{inputs}.enrollments",
        "AOR_PLAN_CHANGES_TOPIC": f"{inputs}.plan-changes",
        "AOR_AGENT_STATUS_TOPIC": f"{inputs}.agent-status",
        "AOR_ASSIGNMENTS_TOPIC": f"{app}.assignments",
        "AOR_ADJUSTMENTS_TOPIC": f"{app}.adjustments",
        "AOR_DEAD_LETTERS_TOPIC": f"{app}.dead-letters",
        "AOR_METRICS_PORT": "0",
        "AOR_LOG_LEVEL": "WARNING",
    })
    return env


def cli(args: list[str], env: dict[str, str]) -> None:
    """Run one `aor-processor` command to its end; RuntimeError with its stderr if it fails."""
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"aor-processor {' '.join(args)}: {proc.stderr[-3000:]}")


# The closing stderr line of `aor-processor run` (processor/cli.py cmd_run).
_RUN_SUMMARY = re.compile(
    r"aor-processor run: (?P<inputs>[\d,]+) inputs, (?P<decisions>[\d,]+) decisions, "
    r"(?P<corrections>[\d,]+) corrections, (?P<dead_letters>[\d,]+) dead letters, "
    r"(?P<transactions>[\d,]+) transactions \((?P<aborted>\d+) aborted\), "
    r"(?P<rebalance_callbacks>\d+) rebalance callbacks, (?P<early>[\d,]+) early decisions, "
    r"largest input buffer (?P<largest_buffer>[\d,]+)")


def run_summary(stderr: str) -> dict[str, int] | None:
    """The counts of `aor-processor run`'s closing summary line (None if it printed none)."""
    found = _RUN_SUMMARY.search(" ".join(stderr.split()))  # rich may wrap the line
    if found is None:
        return None
    return {name: int(value.replace(",", "")) for name, value in found.groupdict().items()}


def consumer(bootstrap: str, **extra: Any) -> Any:
    """A read_committed confluent_kafka.Consumer of a fresh group that commits nothing and
    reports partition ends; `extra` adds or overrides librdkafka properties."""
    import uuid

    from confluent_kafka import Consumer

    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "isolation.level": "read_committed",
                     "enable.partition.eof": True, **extra})


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    """(status, body) of GET http://127.0.0.1:port/path; (0, reason) while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)
