"""Load throughput: `load` of a generated history into a real broker (and a dump of the
empty output topics), printing records per second.

    .venv/bin/python -m bench.kafka_load --members 2000

Uses KAFKA_BOOTSTRAP_SERVERS, else starts a local broker (processor.devkafka.provider).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from processor.config import load_settings
from processor.devkafka.provider import bootstrap_servers
from processor.generate.history import GeneratorConfig, generate
from processor.generate.write import write_history
from processor.kafka.load import load_folder
from processor.kafka.topics import create_topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--format", choices=["jsonl", "avro"], default="jsonl")
    parser.add_argument("--runs", type=int, default=3,
                        help="loads into fresh topics (the first includes broker warm-up)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bootstrap_servers(Path(tmp) / "kafka") as bs:
        folder = Path(tmp) / "history"
        manifest = write_history(
            generate(GeneratorConfig(members=args.members, agents=args.agents, seed=1)),
            folder, args.format)
        print(f"{args.members} members, {args.format}: {manifest['counts']}")
        for run in range(1, args.runs + 1):
            token = uuid.uuid4().hex[:8]
            settings = load_settings(
                bootstrap_servers=bs, application_id=f"bench-{token}",
                enrollments_topic=f"bench-{token}.enrollments",
                plan_changes_topic=f"bench-{token}.plan-changes",
                agent_status_topic=f"bench-{token}.agent-status")
            create_topics(settings, partitions=args.partitions)
            started = time.perf_counter()
            report = load_folder(settings, folder)
            seconds = time.perf_counter() - started
            print(f"load run {run}: {report.total} records in {seconds:.2f} s = "
                  f"{report.total / seconds:,.0f} records/s "
                  f"(read, merge, encode, produce, flush)")

if __name__ == "__main__":
    main()
