"""The composition root: parses the command line, builds settings, runs one command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from processor import __version__
from processor.codec.avro_codecs import CODECS
from processor.config import Settings, load_settings
from processor.files.outputs import DEFAULT_CODEC
from processor.kafka.security import KafkaSecurityError
from processor.logs import configure_logging

EXIT_KAFKA = 1
EXIT_CONFIG = 2

DESCRIPTION = """\
Apply a Medicare carrier's Agent of Record (AOR) retention policy to enrollment and
plan-change events, joined with agent-status snapshots as of each event, and emit AOR
assignments and commission adjustments. Policy and rate schedule are configuration:
AOR_* environment variables, a TOML --config file, or the flags below.
"""


def wall_clock() -> datetime:
    """The only wall-clock read: dead letters' failed_at."""
    return datetime.now(UTC)


def _policy_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "policy settings", "override AOR_* environment variables and the --config file")
    group.add_argument("--schedule-file", type=Path, metavar="CSV",
                       help="rate schedule replacing the CMS fair-market-value caps "
                            "(columns plan_year,region,ma_initial,ma_renewal,pdp_initial,"
                            "pdp_renewal)")
    group.add_argument("--plan-years", metavar="Y,Y",
                       help="plan years the schedule must cover (default 2024,2025,2026)")
    group.add_argument("--protected-channels", metavar="C,C",
                       help="internal channels whose plan changes keep the AOR "
                            "(default: all four internal channels)")
    group.add_argument("--eligibility-checks", metavar="C,C",
                       help="checks that apply: ACTIVE,LICENSED,APPOINTED,CERTIFIED (default all)")
    group.add_argument("--facilitator-takes-aor", action=argparse.BooleanOptionalAction,
                       default=None, help="an eligible external facilitator takes the AOR "
                                          "(default yes)")
    group.add_argument("--correction-window-days", type=int, metavar="DAYS",
                       help="how far back late inputs re-decide events (default 731: the "
                       "current and the previous calendar year)")
    group.add_argument("--policy-name", help="readable part of policy_version")


def _kafka_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kafka", "override AOR_* environment variables")
    group.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                       help="Kafka bootstrap servers (default AOR_BOOTSTRAP_SERVERS or "
                            "KAFKA_BOOTSTRAP_SERVERS, else localhost:9092)")
    group.add_argument("--application-id", help="consumer group id and prefix of the "
                                                "changelog topic (default aor-processor)")
    group.add_argument("--instance-id", help="stable id of this instance (default: host name)")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config_file=args.config,
        bootstrap_servers=getattr(args, "bootstrap_servers", None),
        application_id=getattr(args, "application_id", None),
        instance_id=getattr(args, "instance_id", None),
        metrics_port=getattr(args, "metrics_port", None),
        batch_size=getattr(args, "batch_size", None),
        members_in_memory=getattr(args, "members_in_memory", None),
        max_gate_wait_ms=getattr(args, "max_gate_wait_ms", None),
        session_timeout_ms=getattr(args, "session_timeout_ms", None),
        schedule_file=getattr(args, "schedule_file", None),
        plan_years=getattr(args, "plan_years", None),
        protected_channels=getattr(args, "protected_channels", None),
        eligibility_checks=getattr(args, "eligibility_checks", None),
        facilitator_takes_aor=getattr(args, "facilitator_takes_aor", None),
        correction_window_days=getattr(args, "correction_window_days", None),
        policy_name=getattr(args, "policy_name", None),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aor-processor", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, metavar="TOML",
                        help="settings file (keys as the AOR_ variables without the prefix, "
                             "in lower case)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="structlog JSON logs on stderr (default WARNING)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = commands.add_parser(
        "replay", help="decide input files or the input topics' history, write the outputs",
        description="Replay enrollments, plan-changes and agent-status files (.jsonl or "
                    ".avro) in recorded_at order and write assignments, "
                    "commission-adjustments and dead-letters to the output folder. Bad "
                    "lines become dead letters; the rest is processed. Prints a summary.\n\n"
                    "With --from-kafka, replay the input topics instead, bounded by their "
                    "end offsets at start: inputs recorded before --from are folded into "
                    "member state silently, outputs are written for inputs recorded in "
                    "[--from, --to), to --output files or to topics named --output-prefix "
                    "+ the output topic. The live group's offsets never move.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("--input", type=Path, metavar="DIR",
                        help="folder with enrollments, plan-changes, agent-status files")
    replay.add_argument("--from-kafka", action="store_true",
                        help="read the input topics instead of --input")
    replay.add_argument("--from", dest="range_from", type=_instant, metavar="DATETIME",
                        help="with --from-kafka: first recorded_at to emit outputs for "
                             "(RFC 3339 with an offset, e.g. 2026-01-01T00:00:00Z)")
    replay.add_argument("--to", dest="range_to", type=_instant, metavar="DATETIME",
                        help="with --from-kafka: stop before inputs recorded at or after this")
    replay.add_argument("--output", type=Path, metavar="DIR",
                        help="folder for the outputs (created if missing)")
    replay.add_argument("--output-prefix", metavar="PREFIX",
                        help="with --from-kafka: write to topics PREFIX + output topic name")
    replay.add_argument("--format", choices=["jsonl", "avro"],
                        help="output format (default: the inputs' format)")
    replay.add_argument("--codec", choices=CODECS, default=DEFAULT_CODEC,
                        help=f"Avro outputs' block codec (default {DEFAULT_CODEC}); inputs "
                             "may use any codec of the Avro specification")
    replay.add_argument("--members-in-memory", type=int, metavar="N",
                        help="members kept decoded (default 100000); the rest are kept "
                             "encoded and compressed, which bounds memory")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.add_argument("--quiet", action="store_true", help="no summary tables")
    _kafka_flags(replay)
    _policy_flags(replay)

    run = commands.add_parser(
        "run", help="run the exactly-once Kafka consumer group",
        description="Consume enrollments and plan changes as a consumer group, read the "
                    "whole agent-status topic into a bitemporal table, decide, and emit "
                    "assignments, commission adjustments and dead letters exactly once "
                    "(transactions, read_committed). Member state is restored from the "
                    "compacted changelog. SIGTERM drains and exits 0.")
    _kafka_flags(run)
    run.add_argument("--until-idle", type=float, metavar="SECONDS",
                     help="exit 0 once the inputs have been idle this long (tests, "
                          "backfills)")
    run.add_argument("--metrics-port", type=int, metavar="PORT",
                     help="port of /metrics, /healthz, /readyz (default 9108; 0: off)")
    run.add_argument("--batch-size", type=int, help="inputs per transaction at most")
    run.add_argument("--members-in-memory", type=int, metavar="N",
                     help="members kept decoded over all partitions (default 100000); the "
                          "rest are kept encoded")
    run.add_argument("--max-gate-wait-ms", type=int, metavar="MS",
                     help="longest an event waits for the agent-status table (default 5000)")
    run.add_argument("--session-timeout-ms", type=int, metavar="MS",
                     help="consumer group session timeout (default 45000)")
    _policy_flags(run)

    rewind = commands.add_parser(
        "rewind", help="reset the live consumer group to a datetime (application reset)",
        description="Move the live group's input offsets back to the first record "
                    "recorded at or after --to, and rebuild member state the way a range "
                    "replay does: every input recorded before --to is folded into the "
                    "changelog (members first seen later are deleted), so re-read events "
                    "are decided again rather than dropped as duplicates. Every instance "
                    "must be stopped first. --dry-run shows what would move.")
    _kafka_flags(rewind)
    rewind.add_argument("--to", dest="rewind_to", type=_instant, required=True,
                        metavar="DATETIME", help="RFC 3339 datetime with an offset")
    rewind.add_argument("--dry-run", action="store_true", help="show, change nothing")
    _policy_flags(rewind)

    redecide = commands.add_parser(
        "redecide", help="after an upgrade: re-decide what the live group published under "
                         "the rules this release runs",
        description="Re-decide, under this release's rules and the policy settings, every "
                    "event that occurred at or after --from, from the member states in the "
                    "changelog (what the live outputs stand by) and the whole agent-status "
                    "table. Each event decided differently gets a superseding decision: the "
                    "next revision, REVERSALs of what it no longer stands by and the new "
                    "adjustments, under the new policy_version; unchanged events emit "
                    "nothing. Check the result first with --output DIR or --output-prefix "
                    "PREFIX (nothing live changes), then write it with --live: the live "
                    "output topics and the re-decided member states, in transactions of "
                    "whole members (a re-run after a crash emits nothing twice). Every "
                    "instance must be stopped first. See RUNBOOK.md, 'Upgrading the rules'.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _kafka_flags(redecide)
    redecide.add_argument("--from", dest="redecide_from", type=_instant, required=True,
                          metavar="DATETIME",
                          help="re-decide events that occurred at or after this (RFC 3339 "
                               "with an offset); earlier ones keep their decisions")
    redecide_target = redecide.add_mutually_exclusive_group(required=True)
    redecide_target.add_argument("--output", type=Path, metavar="DIR",
                                 help="write the superseding decisions to files, to check")
    redecide_target.add_argument("--output-prefix", metavar="PREFIX",
                                 help="write them to topics PREFIX + output topic, to check")
    redecide_target.add_argument("--live", action="store_true",
                                 help="write them to the live output topics and the "
                                      "re-decided member states to the changelog")
    redecide.add_argument("--format", choices=["jsonl", "avro"], default="jsonl",
                          help="with --output: file format (default jsonl)")
    redecide.add_argument("--no-progress", action="store_true", help="no progress bar")
    redecide.add_argument("--quiet", action="store_true", help="no summary tables")
    _policy_flags(redecide)

    what_if = commands.add_parser(
        "what-if", help="replay with other policy settings and diff against the outputs",
        description="Replay the input folder in memory with the scenario's policy settings "
                    "(the policy flags below, or another --schedule-file) and compare it "
                    "with the historical outputs, member by member: final AOR, outcome "
                    "and reason of each event, commission adjustments. Writes members.csv, "
                    "agents.csv, reasons.csv, summary.json and a self-contained report.html "
                    "with charts to the output folder, and prints a summary.")
    what_if.add_argument("--input", type=Path, required=True, metavar="DIR",
                         help="folder with enrollments, plan-changes, agent-status files")
    baseline = what_if.add_mutually_exclusive_group(required=True)
    baseline.add_argument("--baseline", type=Path, metavar="DIR",
                          help="historical outputs: assignments and commission-adjustments "
                               "files as written by replay or dump")
    baseline.add_argument("--baseline-topics", action="store_true",
                          help="dump the live output topics into OUTPUT/baseline first and "
                               "compare with that")
    what_if.add_argument("--output", type=Path, required=True, metavar="DIR",
                         help="folder for the CSV files and report.html (created if missing)")
    what_if.add_argument("--top", type=int, default=20, metavar="N",
                         help="agents in the commission-delta chart (default 20)")
    _policy_flags(what_if)
    _kafka_flags(what_if)

    from processor.devkafka.cli import add_dev_kafka_parser
    from processor.kafka.cli import add_kafka_parsers

    add_kafka_parsers(commands)
    add_dev_kafka_parser(commands)

    generate = commands.add_parser(
        "generate", help="write a synthetic input history",
        description="Write a realistic, deterministic synthetic history (AEP and OEP "
                    "bursts, all six channels, agents who terminate or lapse, late and "
                    "backdated snapshots, out-of-order events) for demos, tests and "
                    "benchmarks.")
    generate.add_argument("--members", type=int, default=1000, help="members (default 1000)")
    generate.add_argument("--agents", type=int, default=200, help="agents (default 200)")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    generate.add_argument("--malformed-rate", type=float, default=0.0, metavar="FRACTION",
                          help="add this fraction of malformed JSON lines (default 0)")
    generate.add_argument("--format", choices=["jsonl", "avro"], default="jsonl",
                          help="file format (default jsonl)")
    generate.add_argument("--output", type=Path, required=True, metavar="DIR",
                          help="folder to write (created if missing)")

    explain = commands.add_parser(
        "explain", help="show one member's AOR history, rule traces and commissions",
        description="For disputes: every decision on the member's events in history order "
                    "(occurred_at, then revision) with its whole rule trace, the "
                    "agent-status snapshots the decisions relied on (late ones marked), "
                    "every correction (what changed, what caused it, the reversals) and "
                    "the commission adjustments with a net total per agent. Exit 2 when "
                    "the member is not in the source.")
    explain.add_argument("--member", required=True, metavar="ID", help="the member_id")
    explain_source = explain.add_mutually_exclusive_group(required=True)
    explain_source.add_argument(
        "--outputs", type=Path, metavar="DIR",
        help="a folder of assignments and commission-adjustments files (replay or dump)")
    explain_source.add_argument(
        "--replay", type=Path, metavar="DIR",
        help="an input folder: replay it in memory under the policy settings flags")
    explain_source.add_argument(
        "--topics", action="store_true",
        help="read the output topics and the agent-status topic (committed records only)")
    explain.add_argument("--inputs", type=Path, metavar="DIR",
                         help="with --outputs: the input folder, for the snapshots and the "
                              "member's input events")
    explain.add_argument("--json", action="store_true",
                         help="print one JSON document instead of the tables")
    explain.add_argument("--width", type=int, metavar="COLUMNS",
                         help="text width (default: the terminal's, else 120)")
    explain.add_argument("--late-after-days", type=float, default=7.0, metavar="DAYS",
                         help="mark snapshots recorded this long after they took effect as "
                              "late (default 7)")
    explain.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                         help="with --topics: Kafka bootstrap servers (default "
                              "AOR_BOOTSTRAP_SERVERS or KAFKA_BOOTSTRAP_SERVERS)")
    explain.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                         help="with --topics: how long to wait for the broker (default 30)")
    _policy_flags(explain)
    return parser


class RateColumn(ProgressColumn):
    """Records per second, for replays of long histories."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TaskProgressColumn(), RateColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), console=console, transient=True)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 datetime") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add Z or +00:00")
    return moment.astimezone(UTC)


def cmd_replay(args: argparse.Namespace) -> int:
    if args.from_kafka:
        return cmd_replay_kafka(args)
    if args.input is None or args.output is None:
        raise ValueError("give --input DIR and --output DIR (or --from-kafka)")
    if args.range_from or args.range_to or args.output_prefix:
        raise ValueError("--from, --to and --output-prefix go with --from-kafka")
    from processor.codec.kinds import FileFormat
    from processor.files.outputs import FileSink
    from processor.files.render import render_summary
    from processor.files.replay import input_files, replay
    from processor.policy_io.build import build_policy
    from processor.state.store import bounded_engine

    settings = _settings(args)
    policy = build_policy(settings)
    files = input_files(args.input)
    if args.format:
        fmt = FileFormat(args.format)
    else:
        fmt = (FileFormat.AVRO if all(p.suffix == ".avro" for p in files.values())
               else FileFormat.JSONL)
    log = structlog.get_logger("aor.replay")
    log.info("replay.started", input=str(args.input), output=str(args.output),
             policy_version=policy.policy_version, format=fmt.value)
    console = Console(stderr=True)
    started = time.perf_counter()
    show = not args.no_progress and console.is_terminal
    with FileSink(args.output, fmt, args.codec) as sink, _progress(console) as bar:
        task = bar.add_task("replaying", total=None, visible=show)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = replay(args.input, policy, sink, wall_clock, progress,
                         engine=bounded_engine(policy, settings.members_in_memory))
    seconds = time.perf_counter() - started
    (args.output / "summary.json").write_text(
        json.dumps({"policy_version": policy.policy_version, **summary.to_json()}, indent=2)
        + "\n")
    log.info("replay.finished", seconds=round(seconds, 3), outputs=sink.counts(),
             dead_letters=sum(summary.dead_letters.values()))
    if not args.quiet:
        out = Console()
        out.print(f"[bold]aor-processor replay[/bold] {args.input} -> {args.output}  "
                  f"policy {policy.policy_version}")
        render_summary(summary, out, seconds)
    return 0


def cmd_replay_kafka(args: argparse.Namespace) -> int:
    from processor.codec.kinds import FileFormat
    from processor.files.outputs import FileSink, OutputSinkCloser
    from processor.files.render import render_summary
    from processor.files.replay import Window, replay_inputs
    from processor.files.summary import RunSummary
    from processor.kafka.history import read_history
    from processor.kafka.registry import wire_codec
    from processor.kafka.sinks import TopicSink
    from processor.policy_io.build import build_policy

    if (args.output is None) == (args.output_prefix is None):
        raise ValueError("give exactly one of --output DIR and --output-prefix PREFIX")
    if args.range_from and args.range_to and args.range_from >= args.range_to:
        raise ValueError("--from must be before --to")
    settings = _settings(args)
    policy = build_policy(settings)
    _verify_kafka_access(settings)
    wire = wire_codec(settings)
    window = Window(args.range_from, args.range_to)
    console = Console(stderr=True)
    show = not args.no_progress and console.is_terminal
    started = time.perf_counter()
    with _progress(console) as bar:
        reading = bar.add_task("reading topics", total=None, visible=show)
        history = read_history(settings, wire, wall_clock, args.range_to,
                               lambda done, total: bar.update(reading, completed=done,
                                                              total=total))
        sink: OutputSinkCloser = (
            FileSink(args.output, FileFormat(args.format or "jsonl"), args.codec)
            if args.output
            else TopicSink(settings, args.output_prefix, wire))
        try:
            summary = RunSummary()
            for kind in history.read:
                summary.inputs[kind] = history.read[kind]
            for when, letter in history.letters:
                if window.emits(when) and window.reads(when):
                    summary.count_dead_letter(letter)
                    sink.dead_letter(letter)
            deciding = bar.add_task("replaying", total=len(history.inputs), visible=show)
            replay_inputs(history.inputs, policy, sink, wall_clock,
                          lambda done, total: bar.update(deciding, completed=done),
                          window=window, summary=summary)
        finally:
            sink.close()
    seconds = time.perf_counter() - started
    target = str(args.output) if args.output else f"topics {args.output_prefix}*"
    if args.output:
        (args.output / "summary.json").write_text(json.dumps(
            {"policy_version": policy.policy_version,
             "from": args.range_from.isoformat() if args.range_from else None,
             "to": args.range_to.isoformat() if args.range_to else None,
             **summary.to_json()}, indent=2) + "\n")
    if not args.quiet:
        out = Console()
        out.print(f"[bold]aor-processor replay[/bold] Kafka "
                  f"[{args.range_from or 'beginning'}, {args.range_to or 'end'}) -> {target}  "
                  f"policy {policy.policy_version}")
        render_summary(summary, out, seconds)
    return 0


def cmd_rewind(args: argparse.Namespace) -> int:
    from rich.table import Table

    from processor.kafka.registry import wire_codec
    from processor.kafka.rewind import plan_and_rewind
    from processor.policy_io.build import build_policy

    settings = _settings(args)
    _verify_kafka_access(settings)
    plan = plan_and_rewind(settings, build_policy(settings), wire_codec(settings),
                           args.rewind_to, wall_clock, dry_run=args.dry_run)
    table = Table(title=f"rewind of group {settings.application_id} to "
                        f"{plan.to.isoformat()}" + (" (dry run)" if args.dry_run else ""),
                  title_justify="left")
    for column in ("partition", "enrollments", "plan-changes", "records re-read",
                   "members kept", "members deleted"):
        table.add_column(column, justify="right")
    e, c = settings.enrollments_topic, settings.plan_changes_topic
    for part in plan.partitions:
        table.add_row(str(part.partition),
                      f"{part.committed[e]} -> {part.target[e]}",
                      f"{part.committed[c]} -> {part.target[c]}",
                      f"{part.rereads:,}", f"{part.members_kept:,}",
                      f"{part.members_deleted:,}")
    console = Console()
    console.print(table)
    console.print("agent-status applied up to offsets " + ", ".join(
        f"{p}:{o}" for p, o in sorted(plan.agent_status.items())))
    console.print("applied" if plan.applied else "nothing changed (dry run)")
    return 0


def cmd_redecide(args: argparse.Namespace) -> int:
    from rich.table import Table

    from processor.codec.kinds import FileFormat
    from processor.files.outputs import FileSink
    from processor.files.render import render_summary
    from processor.kafka.redecide import LiveTarget, RedecideTarget, SinkTarget, redecide_topics
    from processor.kafka.registry import wire_codec
    from processor.kafka.sinks import TopicSink
    from processor.policy_io.build import build_policy

    settings = _settings(args)
    policy = build_policy(settings)
    _verify_kafka_access(settings)
    wire = wire_codec(settings)
    target: RedecideTarget
    if args.output is not None:
        target = SinkTarget(FileSink(args.output, FileFormat(args.format)))
        where = str(args.output)
    elif args.output_prefix is not None:
        target = SinkTarget(TopicSink(settings, args.output_prefix, wire))
        where = f"topics {args.output_prefix}*"
    else:
        target = LiveTarget(settings, wire)
        where = "the live output topics and the changelog"
    console = Console(stderr=True)
    show = not args.no_progress and console.is_terminal
    started = time.perf_counter()
    with _progress(console) as bar:
        task = bar.add_task("re-deciding members", total=None, visible=show)
        report = redecide_topics(
            settings, policy, wire, args.redecide_from, target,
            lambda done, total: bar.update(task, completed=done, total=total))
    seconds = time.perf_counter() - started
    if args.output is not None:
        (args.output / "summary.json").write_text(json.dumps(
            {"policy_version": policy.policy_version, "from": args.redecide_from.isoformat(),
             "members": report.members, "members_superseded": report.members_superseded,
             "net_change": str(report.net_change),
             "net_change_by_agent": {a: str(v) for a, v in sorted(report.net_by_agent.items())},
             **report.summary.to_json()}, indent=2) + "\n")
    if not args.quiet:
        out = Console()
        out.print(f"[bold]aor-processor redecide[/bold] events from "
                  f"{args.redecide_from.isoformat()} -> {where}  policy {policy.policy_version}")
        table = Table(title="Re-decision", title_justify="left")
        table.add_column("")
        table.add_column("", justify="right")
        table.add_row("agent-status snapshots", f"{report.snapshots:,}")
        table.add_row("agent table known up to",
                      report.known.isoformat() if report.known else "nothing")
        table.add_row("members in the changelog", f"{report.members:,}")
        table.add_row("members with superseding decisions", f"{report.members_superseded:,}")
        table.add_row("superseding decisions", f"{report.summary.corrections:,}")
        table.add_row("member states rewritten" if args.live else "member states to rewrite",
                      f"{report.members_changed:,}")
        table.add_row("net change (USD)", f"{report.net_change:,.2f}")
        out.print(table)
        agents = Table(title="Largest net changes per agent (USD)", title_justify="left")
        agents.add_column("agent")
        agents.add_column("net change", justify="right")
        for agent, amount in sorted(report.net_by_agent.items(),
                                    key=lambda kv: (-abs(kv[1]), kv[0]))[:10]:
            agents.add_row(agent, f"{amount:,.2f}")
        out.print(agents)
        render_summary(report.summary, out)
        out.print(f"{report.members:,} members in {seconds:.1f} s")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from processor.generate.history import GeneratorConfig, generate
    from processor.generate.write import write_history

    if args.members < 1 or args.agents < 1:
        raise ValueError("--members and --agents must be at least 1")
    if not 0.0 <= args.malformed_rate < 1.0:
        raise ValueError("--malformed-rate must be in [0, 1)")
    config = GeneratorConfig(members=args.members, agents=args.agents, seed=args.seed,
                             malformed_rate=args.malformed_rate)
    started = time.perf_counter()
    manifest = write_history(generate(config), args.output, args.format)
    Console().print(f"wrote {args.output} in {time.perf_counter() - started:.1f} s: "
                    f"{json.dumps(manifest['counts'], sort_keys=True)}, "
                    f"malformed lines {manifest['malformed_total']}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from processor.gc_tuning import long_lived_heap
    from processor.policy_io.build import build_policy
    from processor.runtime.service import run_processor

    settings = _settings(args)
    policy = build_policy(settings)
    log = structlog.get_logger("aor.run")
    log.info("run.started", application_id=settings.application_id,
             policy_version=policy.policy_version, wire_format=settings.wire_format.value)
    with long_lived_heap():  # member states: a growing heap of long-lived objects
        stats = run_processor(settings, policy, args.until_idle)
    # One line, not wrapped at 80 columns: scripts read it.
    Console(stderr=True, soft_wrap=True).print(
        f"aor-processor run: {stats.inputs:,} inputs, {stats.decisions:,} decisions, "
        f"{stats.corrections:,} corrections, {stats.dead_letters:,} dead letters, "
        f"{stats.transactions:,} transactions ({stats.aborted} aborted), "
        f"{stats.rebalances} rebalance callbacks, {stats.early} early decisions, "
        f"largest input buffer {stats.largest_buffer:,}")
    log.info("run.finished", inputs=stats.inputs, decisions=stats.decisions,
             corrections=stats.corrections, dead_letters=stats.dead_letters)
    return 0


def _verify_kafka_access(settings: Settings) -> None:
    """With SASL or TLS configured, fail in a second on refused credentials or an
    untrusted certificate (KafkaSecurityError, reported by ``main``)."""
    from processor.kafka.security import verify_access

    verify_access(settings)


def cmd_kafka_tool(args: argparse.Namespace) -> int:
    from processor.kafka.cli import kafka_overrides

    settings = load_settings(config_file=args.config, **kafka_overrides(args))
    _verify_kafka_access(settings)
    code: int = args.kafka_handler(args, settings)
    return code


def cmd_dev_kafka(args: argparse.Namespace) -> int:
    from processor.devkafka.cli import run_dev_kafka

    return run_dev_kafka(args)


def cmd_what_if(args: argparse.Namespace) -> int:
    from processor.policy_io.build import build_policy
    from processor.whatif.load import BaselineUnavailableError, dump_baseline
    from processor.whatif.run import print_summary, run_what_if

    if args.top < 1:
        raise ValueError("--top must be at least 1")
    settings = _settings(args)
    policy = build_policy(settings)
    baseline = args.baseline
    if args.baseline_topics:
        _verify_kafka_access(settings)
        try:
            baseline = dump_baseline(settings, args.output / "baseline")
        except BaselineUnavailableError as error:
            print(f"aor-processor what-if: {error}", file=sys.stderr)
            return 1
    result = run_what_if(args.input, baseline, args.output, policy, wall_clock, args.top)
    print_summary(result, Console(soft_wrap=True))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    import os
    from datetime import timedelta

    from processor.explain import explain, render_json, render_text
    from processor.explain.sources import from_outputs, from_replay, from_topics
    from processor.policy_io.build import build_policy

    if args.inputs is not None and args.outputs is None:
        raise ValueError("--inputs goes with --outputs (--replay reads the snapshots from "
                         "the folder it replays, --topics from the agent-status topic)")
    if args.outputs is not None:
        loaded = from_outputs(args.outputs, args.inputs, args.member, wall_clock)
    elif args.replay is not None:
        loaded = from_replay(args.replay, build_policy(_settings(args)), args.member,
                             wall_clock)
    else:
        from confluent_kafka import KafkaException

        settings = _settings(args)
        _verify_kafka_access(settings)
        try:
            loaded = from_topics(settings, args.member, wall_clock, timeout=args.timeout)
        except (KafkaException, RuntimeError) as error:
            print(f"aor-processor explain: Kafka failed ({settings.bootstrap_servers}): "
                  f"{error}", file=sys.stderr)
            return 1
    for warning in loaded.warnings:
        print(f"aor-processor explain: warning: {warning}", file=sys.stderr)
    explanation = explain(args.member, loaded.records, source=loaded.source,
                          late_after=timedelta(days=args.late_after_days))
    if args.json:
        sys.stdout.write(render_json(explanation))
        return 0
    console = Console(width=args.width)
    if args.width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=120)
    render_text(explanation, console)
    return 0


COMMANDS = {"replay": cmd_replay, "generate": cmd_generate, "run": cmd_run,
            "topics": cmd_kafka_tool, "load": cmd_kafka_tool, "dump": cmd_kafka_tool,
            "dev-kafka": cmd_dev_kafka, "rewind": cmd_rewind, "redecide": cmd_redecide}
COMMANDS["what-if"] = cmd_what_if
COMMANDS["explain"] = cmd_explain


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return COMMANDS[args.command](args)
    except ValueError as error:
        # Configuration and input-folder problems: one clear line, no traceback.
        print(f"aor-processor {args.command}: error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KafkaSecurityError as error:
        # Refused credentials or TLS: one clear line, no secret, no traceback.
        print(f"aor-processor {args.command}: error: {error}", file=sys.stderr)
        return EXIT_KAFKA


if __name__ == "__main__":
    sys.exit(main())
