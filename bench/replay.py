"""File replay throughput: events/s and peak RSS on generated histories, JSON Lines and Avro.

    .venv/bin/python -m bench.replay --members 100000 --members 1000000
    .venv/bin/python -m bench.replay --members 20000 --profile      # pyinstrument profiles
    .venv/bin/python -m bench.replay --members 20000 --src /tmp/old  # another source tree
    .venv/bin/python -m bench.replay --members 1000000 --format avro --members-in-memory 25000

Histories are generated once into .cache/bench/histories/ (agents = members / 10, seed 1,
malformed rate 0.005 in JSON Lines; Avro files hold good records only) and reused. Each
replay runs in a fresh process (bench/replay_worker.py) writing its outputs in the input's
format, as `aor-processor replay` does; events/s counts every input record read, dead
letters included. Figures go to bench/results/replay.json (or --name).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    RESULTS,
    ROOT,
    ensure_history,
    input_records,
    run_json,
    write_results,
)

WORKER = ROOT / "bench" / "replay_worker.py"


def measure(folder: Path, fmt: str, src: Path | None, profile: Path | None,
            repeat: int, members_in_memory: int | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    events = input_records(folder)
    runs: list[dict[str, Any]] = []
    for n in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
            cmd = [PYTHON, str(WORKER), "--input", str(folder), "--output",
                   str(Path(tmp) / "out"), "--format", fmt]
            if profile is not None and n == 0:
                cmd += ["--profile", str(profile)]
            if members_in_memory is not None:
                cmd += ["--members-in-memory", str(members_in_memory)]
            run = run_json(cmd, env=env)
        run["events"] = events
        run["events_per_s"] = round(events / run["seconds"])
        run["events_per_cpu_s"] = round(events / run["cpu_seconds"])
        print(f"  {fmt:5} run {n + 1}: {events:,} events in {run['seconds']:.2f} s "
              f"(cpu {run['cpu_seconds']:.2f} s; decode {run['decode_seconds']:.2f} s) = "
              f"{run['events_per_s']:,} events/s, peak RSS {run['max_rss_mib']:,.0f} MiB",
              flush=True)
        runs.append(run)
    best = min(runs, key=lambda r: r["cpu_seconds"])
    return {"format": fmt, "events": events, "members_in_memory": members_in_memory,
            "best": best, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, action="append",
                        help="history size (repeat the flag for several; default 100000)")
    parser.add_argument("--agents", type=int, help="default: members / 10")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--malformed-rate", type=float, default=0.005)
    parser.add_argument("--format", choices=["jsonl", "avro"], action="append",
                        help="default: both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size and format")
    parser.add_argument("--src", type=Path,
                        help="measure the `processor` package of another source tree")
    parser.add_argument("--profile", action="store_true",
                        help="pyinstrument profile of the first run (text and HTML)")
    parser.add_argument("--members-in-memory", type=int,
                        help="as `replay --members-in-memory` (default: the Settings default)")
    parser.add_argument("--name", default="replay", help="results file stem")
    args = parser.parse_args()
    sizes = args.members or [100_000]
    formats = tuple(args.format or ["jsonl", "avro"])
    results: list[dict[str, Any]] = []
    for members in sizes:
        agents = args.agents or max(10, members // 10)
        folders = ensure_history(members, agents, args.seed, args.malformed_rate)
        print(f"{members:,} members, {agents:,} agents", flush=True)
        for fmt in formats:
            profile = (RESULTS / f"profile-{args.name}-{fmt}-{members}.txt"
                       if args.profile else None)
            if profile is not None:
                profile.parent.mkdir(parents=True, exist_ok=True)
            result = measure(folders[fmt], fmt, args.src, profile, args.repeat,
                             args.members_in_memory)
            results.append({"members": members, "agents": agents, **result})
    write_results(args.name, {"src": str(args.src or ROOT), "results": results})


if __name__ == "__main__":
    main()
