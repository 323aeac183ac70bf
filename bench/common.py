"""Shared pieces of the benchmarks: machine facts, cached histories, result files.

Benchmarks are not part of the test run; each prints its figures and writes them to
`bench/results/<name>.json` (ignored by git, except `bench/results/summary.md`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / ".cache" / "bench"
PYTHON = sys.executable


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
