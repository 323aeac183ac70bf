"""Command-line wiring of ``topics create``, ``load`` and ``dump`` for processor/cli.py.

Hook-up (the composition root keeps building the one Settings object)::

    add_kafka_parsers(commands, common_flags)          # in build_parser()
    ...
    settings = load_settings(config_file=args.config, **kafka_overrides(args))
    return args.kafka_handler(args, settings)          # for "topics", "load", "dump"

Exit codes: 0 done; 1 Kafka failed (unreachable broker, delivery error, a dump that
did not finish or met undecodable records); 2 refused (co-partitioning mismatch, a
missing topic, a bad input folder). Importing this module needs no broker.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from processor.codec.avro_codecs import CODECS
from processor.config import Settings

EXIT_OK = 0
EXIT_KAFKA = 1
EXIT_REFUSED = 2

CommonFlags = Sequence[argparse.ArgumentParser] | Callable[[argparse.ArgumentParser], None] | None
Handler = Callable[[argparse.Namespace, Settings], int]


def add_kafka_parsers(subparsers: Any, common_flags: CommonFlags = None) -> None:
    """Add ``topics`` (with ``create``), ``load`` and ``dump`` to ``subparsers`` (what
    ``ArgumentParser.add_subparsers()`` returned). ``common_flags`` is either parent
    parsers to inherit from or a function that adds flags to a parser. Each command sets
    ``args.kafka_handler`` to its ``run_*`` function."""
    parents = list(common_flags) if isinstance(common_flags, Sequence) else []
    add_common = common_flags if callable(common_flags) else None

    def command(parent: Any, name: str, handler: Handler | None, **kwargs: Any,
                ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, parents=parents, **kwargs)
        if handler is not None:
            _kafka_flags(parser)
            if add_common is not None:
                add_common(parser)
            parser.set_defaults(kafka_handler=handler)
        return parser

    topics = command(
        subparsers, "topics", None, help="manage the processor's Kafka topics",
        description="Manage the processor's Kafka topics.")
    actions = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    create = command(
        actions, "create", run_topics, help="create the topics (idempotent)",
        description="Create the input, output, dead-letter and changelog topics that do "
                    "not exist yet; existing ones are reported, never altered. "
                    "Enrollments, plan-changes and the member-state changelog must have "
                    "the same partition count: an existing one's count wins, and "
                    "existing ones that disagree are refused (exit 2). agent-status "
                    "gets retention.ms=-1 (kept forever, not compacted); the changelog "
                    "is compacted.")
    create.add_argument("--partitions", type=int, metavar="N",
                        help="partitions of new topics (default AOR_PARTITIONS or 6)")
    create.add_argument("--replication-factor", type=int, metavar="N",
                        help="replication factor of new topics "
                             "(default AOR_REPLICATION_FACTOR or 1)")
    check = command(
        actions, "check", run_topics_check,
        help="report topics that differ from what `topics create` makes, and misrouted keys",
        description="Change nothing; report every topic of the processor that is missing or "
                    "differs from what `topics create` would make (partitions, replication, "
                    "retention.ms, min.insync.replicas, cleanup.policy), and, from a sample "
                    "of each input partition, the share of enrollment and plan-change keys "
                    "that sit on another partition than AOR_INPUT_PARTITIONER puts them "
                    "(murmur2, Java's default, or crc32, librdkafka's), with the share "
                    "under the other rule for comparison. Exit 1 when anything differs.")
    check.add_argument("--sample", type=int, default=1000, metavar="N",
                       help="records read from the start of each input partition (default "
                            "1000)")
    acls = command(
        actions, "acls", run_topics_acls,
        help="print the Kafka ACLs an instance and the operator's tools need",
        description="Print, as kafka-acls.sh commands for this deployment's settings, the "
                    "ACLs an instance (`run`) needs and, separately, those the operator's "
                    "tools need (topics create/check, load, dump, range replays, rewind, "
                    "redecide). Nothing else is needed: tests/security runs the whole cycle "
                    "on a broker with an authorizer and only these.")
    acls.add_argument("--principal", default="User:aor-processor",
                      help="the instances' principal (default User:aor-processor)")
    acls.add_argument("--tools-principal", default="User:aor-operator",
                      help="the operator tools' principal (default User:aor-operator)")
    copy = command(
        actions, "copy", run_topics_copy,
        help="copy a topic into another, partitioned as Java's default partitioner does",
        description="Copy every committed record of --source into --target (which must "
                    "exist) with its key, value, headers and timestamp, placed by murmur2 "
                    "of the key (Java's default partitioner). For input topics written by "
                    "earlier versions of `load` (CRC-32): RUNBOOK.md, 'Producers and "
                    "partitions'. Reads without a consumer group; changes nothing else.")
    copy.add_argument("--source", required=True, metavar="TOPIC")
    copy.add_argument("--target", required=True, metavar="TOPIC")

    load = command(
        subparsers, "load", run_load, help="publish an input folder to the input topics",
        description="Publish the enrollments, plan-changes and agent-status files of a "
                    "folder (.jsonl or .avro) to their topics, merged in recorded_at "
                    "order as the file replay reads them, keyed by member_id / agent_id, "
                    "with each record's Kafka timestamp set to its recorded_at. Lines "
                    "that do not decode are counted and skipped. The producer is "
                    "idempotent; any delivery error fails the load (exit 1). The topics "
                    "must exist (`topics create`).")
    load.add_argument("--input", type=Path, required=True, metavar="DIR",
                      help="folder with enrollments, plan-changes, agent-status files")
    load.add_argument("--no-progress", action="store_true", help="no progress bar")

    dump = command(
        subparsers, "dump", run_dump, help="write the output topics to files",
        description="Read assignments, commission-adjustments and dead-letters from the "
                    "start of each partition to its end offset as of now (committed "
                    "transactions only, no consumer group, nothing committed) and write "
                    "them as files, partition by partition in offset order. Exit 1 when "
                    "a partition was not read to its end or a record did not decode.")
    dump.add_argument("--output", type=Path, required=True, metavar="DIR",
                      help="folder for the files (created if missing)")
    dump.add_argument("--format", choices=["jsonl", "avro"], default="jsonl",
                      help="file format (default jsonl)")
    dump.add_argument("--codec", choices=CODECS, default="null",
                      help="with --format avro: block codec (default null)")
    dump.add_argument("--idle-timeout", type=float, default=10.0, metavar="SECONDS",
                      help="give up when no record arrives for this long (default 10)")


def _kafka_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Kafka")
    group.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                       help="Kafka bootstrap servers (default AOR_BOOTSTRAP_SERVERS or "
                            "KAFKA_BOOTSTRAP_SERVERS, else localhost:9092)")
    group.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="how long to wait for the broker (default 30)")


def kafka_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings these commands' flags override (None: not given)."""
    return {
        "bootstrap_servers": getattr(args, "bootstrap_servers", None),
        "partitions": getattr(args, "partitions", None),
        "replication_factor": getattr(args, "replication_factor", None),
    }


def run_topics(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import KafkaException

    from processor.kafka.topics import CoPartitioningError, TopicsError, create_topics

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        report = create_topics(settings, getattr(args, "partitions", None),
                               getattr(args, "replication_factor", None),
                               timeout=args.timeout)
    except CoPartitioningError as exc:
        err.print(f"[red]topics create refused:[/red] {exc}")
        return EXIT_REFUSED
    except (KafkaException, TopicsError) as exc:
        err.print(f"[red]topics create failed[/red] ({settings.bootstrap_servers}): {exc}")
        return EXIT_KAFKA
    out.print(f"topics at {settings.bootstrap_servers}:")
    for topic in report.topics:
        config = " ".join(f"{k}={v}" for k, v in sorted(topic.config.items()))
        out.print(f"  {topic.status.value:<7} {topic.name}  {topic.partitions} partitions, "
                  f"replication {topic.replication}" + (f", {config}" if config else ""))
    out.print(f"created {len(report.created)}, existing {len(report.existing)}")
    warnings = report.all_warnings()
    for warning in warnings:
        err.print(f"[yellow]differs:[/yellow] {warning}")
    if warnings:
        err.print("existing topics are never altered: change them with kafka-configs (or "
                  "recreate them) as RUNBOOK.md \"Deploy\" says, or set the AOR_ settings to "
                  "what they are")
        return EXIT_KAFKA
    return EXIT_OK


def run_topics_acls(args: argparse.Namespace, settings: Settings) -> int:
    from processor.kafka.acls import instance_grants, kafka_acls_commands, operator_grants

    out = Console(soft_wrap=True)
    out.print(f"# an instance (run), as {args.principal}")
    for line in kafka_acls_commands(args.principal, instance_grants(settings)):
        out.print(line, highlight=False, markup=False)
    out.print(f"# the operator's tools, as {args.tools_principal}")
    for line in kafka_acls_commands(args.tools_principal, operator_grants(settings)):
        out.print(line, highlight=False, markup=False)
    return EXIT_OK


def run_topics_copy(args: argparse.Namespace, settings: Settings) -> int:
    from processor.kafka.topic_check import copy_topic

    copied = copy_topic(settings, args.source, args.target)
    Console(soft_wrap=True).print(f"copied {copied:,} records from {args.source} to "
                                  f"{args.target} (murmur2 of the key)")
    return EXIT_OK


def run_topics_check(args: argparse.Namespace, settings: Settings) -> int:
    from processor.kafka.topic_check import check_topics

    out = Console(soft_wrap=True)
    report = check_topics(settings, args.sample, timeout=args.timeout)
    out.print(f"topics at {settings.bootstrap_servers}:")
    if report.refused:
        out.print(f"  [red]{report.refused}[/red]")
    for name, problems in report.topics.items():
        out.print(f"  {'ok' if not problems else 'DIFFERS':<7} {name}"
                  + ("" if not problems else ": " + "; ".join(problems)))
    rule = report.rule
    for sample in report.samples:
        if not sample.sampled:
            out.print(f"  keys of {sample.topic}: no records to sample")
            continue
        shares = ", ".join(f"{r.value} {sample.share(r):.1%}" for r in sample.misplaced)
        verdict = ("" if rule.value == "off" or not sample.misplaced[rule]
                   else f"  [red]{sample.misplaced[rule]:,} misrouted under "
                        f"AOR_INPUT_PARTITIONER={rule.value}[/red]")
        out.print(f"  keys of {sample.topic}: {sample.sampled:,} sampled over "
                  f"{sample.partitions} partitions, on another partition than: {shares}"
                  + verdict)
    out.print("all as expected" if report.ok else "differences found (see RUNBOOK.md)")
    return EXIT_OK if report.ok else EXIT_KAFKA


def run_load(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import KafkaException
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from processor.kafka.load import LoadError, MissingTopicsError, load_folder
    from processor.kafka.registry import RegistryError

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    show = not args.no_progress and err.is_terminal
    try:
        with Progress(TextColumn("loading"), BarColumn(), MofNCompleteColumn(),
                      console=err, transient=True, disable=not show) as bar:
            task = bar.add_task("loading", total=None)
            report = load_folder(settings, args.input,
                                 lambda done, total: bar.update(task, completed=done,
                                                                total=total),
                                 timeout=max(args.timeout, 1.0))
    except MissingTopicsError as exc:
        err.print(f"[red]load refused:[/red] {exc}")
        return EXIT_REFUSED
    except (LoadError, KafkaException, RegistryError) as exc:
        err.print(f"[red]load failed[/red] ({settings.bootstrap_servers}): {exc}")
        return EXIT_KAFKA
    published = ", ".join(f"{t} {n}" for t, n in report.published.items()) or "nothing"
    out.print(f"loaded {report.total} records from {args.input} in {report.seconds:.1f} s "
              f"({report.records_per_second:,.0f}/s): {published}")
    if report.dead_letters:
        skipped = ", ".join(f"{f} {n}" for f, n in report.dead_letters.items())
        out.print(f"skipped lines that do not decode: {skipped}")
    return EXIT_OK


def run_dump(args: argparse.Namespace, settings: Settings) -> int:
    from confluent_kafka import KafkaException

    from processor.kafka.dump import dump_topics
    from processor.kafka.load import MissingTopicsError
    from processor.kafka.registry import RegistryError

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        report = dump_topics(settings, args.output, args.format, args.idle_timeout,
                             timeout=args.timeout, avro_codec=args.codec)
    except MissingTopicsError as exc:
        err.print(f"[red]dump refused:[/red] {exc}")
        return EXIT_REFUSED
    except (KafkaException, RegistryError) as exc:
        err.print(f"[red]dump failed[/red] ({settings.bootstrap_servers}): {exc}")
        return EXIT_KAFKA
    written = ", ".join(f"{f} {n}" for f, n in report.written.items())
    out.print(f"dumped to {args.output} in {report.seconds:.1f} s: {written}")
    for topic, count in report.undecodable.items():
        err.print(f"[yellow]{topic}: {count} record(s) did not decode[/yellow]")
    for line in report.errors:
        err.print(f"  {line}")
    if report.incomplete:
        err.print(f"[yellow]not read to the end within --idle-timeout:[/yellow] "
                  f"{', '.join(report.incomplete)}")
    return EXIT_OK if report.ok else EXIT_KAFKA
