"""One measured file replay in a process of its own (peak RSS is per process).

Run by path, not with -m, so that PYTHONPATH can put another source tree of `processor`
first (bench.replay --src DIR measures an older tree side by side). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def clock() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--format", choices=["jsonl", "avro"], required=True)
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile here")
    parser.add_argument("--keep", action="store_true", help="keep the output folder")
    parser.add_argument("--members-in-memory", type=int,
                        help="as `replay --members-in-memory` (default: the Settings default)")
    args = parser.parse_args()

    from processor.codec.kinds import FileFormat
    from processor.domain.settings import PolicySettings
    from processor.files import replay as replay_module
    from processor.files.outputs import FileSink
    from processor.files.summary import RunSummary

    profiler = None
    if args.profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    policy = PolicySettings()
    cpu0 = time.process_time()
    started = time.perf_counter()
    try:  # the tree measured may predate it
        from processor.gc_tuning import long_lived_heap
    except ImportError:
        long_lived_heap = contextlib.nullcontext  # type: ignore[assignment]
    with FileSink(args.output, FileFormat(args.format)) as sink, long_lived_heap():
        summary = RunSummary()
        files = replay_module.input_files(args.input)
        inputs = replay_module._decode_all(files, clock, sink, summary)
        decoded = time.perf_counter()
        cpu_decoded = time.process_time()
        try:  # as `aor-processor replay` builds it; older trees have no member store
            from processor.config import Settings
            from processor.state.store import bounded_engine
            limit = args.members_in_memory or Settings.model_fields["members_in_memory"].default
            engine = bounded_engine(policy, limit)
        except ImportError:
            engine = None
        replay_module.replay_inputs(inputs, policy, sink, clock, summary=summary,
                                    engine=engine)
        decided = time.perf_counter()
    finished = time.perf_counter()
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        args.profile.with_suffix(".html").write_text(profiler.output_html())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts = sink.counts()
    out_bytes = sum(p.stat().st_size for p in args.output.iterdir())
    if not args.keep:
        shutil.rmtree(args.output, ignore_errors=True)
    print(json.dumps({
        "seconds": round(finished - started, 3),
        "cpu_seconds": round(cpu, 3),
        "decode_seconds": round(decoded - started, 3),
        "decode_cpu_seconds": round(cpu_decoded - cpu0, 3),
        "decide_write_seconds": round(decided - decoded, 3),
        "inputs_accepted": sum(summary.inputs.values()),
        "members": summary.members,
        "outputs": counts,
        "output_bytes": out_bytes,
        "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "processor_from": str(Path(replay_module.__file__).resolve().parents[2]),
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
