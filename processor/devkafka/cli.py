"""The ``dev-kafka`` subcommand: a background Kafka broker for demos and manual tests.

Wiring into the main parser::

    add_dev_kafka_parser(commands)          # commands = parser.add_subparsers(...)
    ...
    if args.command == "dev-kafka":
        return run_dev_kafka(args)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from processor.devkafka import state
from processor.devkafka.broker import DEFAULT_START_TIMEOUT, DEFAULT_STOP_GRACE
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.jars import jars_present
from processor.devkafka.paths import CACHE_ENV, libs_dir
from processor.devkafka.versions import KAFKA_VERSION

COMMAND = "dev-kafka"
EXIT_ERROR = 1
EXIT_NOT_RUNNING = 3

DESCRIPTION = f"""\
Run a real Apache Kafka {KAFKA_VERSION} broker in the background on 127.0.0.1, for demos
and manual tests, without Docker: a single-node KRaft broker (broker and controller in one
JVM) started from the Kafka jars on Maven Central. Needs Java 17+; the first start fetches
the jars with Maven into ~/.cache/aor-processor/kafka-{KAFKA_VERSION}/libs (set
{CACHE_ENV} to use another cache folder).

  BOOTSTRAP=$(aor-processor dev-kafka start | tail -n 1)
  aor-processor dev-kafka status
  aor-processor dev-kafka stop
"""


def _add_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dev_kafka_command", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", help="start the broker in the background and print its bootstrap address",
        description="Start the broker as a detached process that outlives this command, "
                    "wait until it answers a metadata request, and print its bootstrap "
                    "address (host:port) as the last line of stdout. Does nothing but print "
                    "the address if it is already running. Progress goes to stderr.")
    start.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="broker data folder, kept across stop and start (default "
                            "<cache>/dev-kafka/data)")
    start.add_argument("--port", type=int, metavar="PORT",
                       help="PLAINTEXT port on 127.0.0.1 (default: the previous run's port "
                            "if free, else a free port)")
    start.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT, metavar="SEC",
                       help=f"give up if not ready within SEC seconds "
                            f"(default {DEFAULT_START_TIMEOUT:.0f})")
    start.add_argument("--fresh", action="store_true",
                       help="delete the data folder first: no topics, no offsets")
    stop = actions.add_parser(
        "stop", help="stop the background broker",
        description="Send the broker SIGTERM (a controlled shutdown), SIGKILL it if it is "
                    "still running after the grace period, and forget it. Its data folder "
                    "is kept. Stopping when nothing runs is not an error.")
    stop.add_argument("--grace", type=float, default=DEFAULT_STOP_GRACE, metavar="SEC",
                      help=f"seconds to wait before SIGKILL (default {DEFAULT_STOP_GRACE:.0f})")
    status = actions.add_parser(
        "status", help="is the background broker running?",
        description=f"Print the broker's address, pid, data folder and log. Exit code 0 if "
                    f"it runs and answers, {EXIT_NOT_RUNNING} if it is not running, "
                    f"{EXIT_ERROR} if it runs but does not answer.")
    status.add_argument("--json", action="store_true", help="print the state as JSON")


def add_dev_kafka_parser(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``dev-kafka`` command, with its start, stop and status actions."""
    parser = subparsers.add_parser(
        COMMAND, help="run a local Kafka broker in the background (no Docker needed)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_actions(parser)
    return parser


def build_parser(prog: str = "python -m processor.devkafka") -> argparse.ArgumentParser:
    """A stand-alone parser with the same actions (for ``python -m processor.devkafka``)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_actions(parser)
    return parser


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _start(args: argparse.Namespace) -> int:
    if not jars_present(libs_dir()):
        _err(f"fetching the Kafka {KAFKA_VERSION} jars with Maven into {libs_dir()} "
             "(first time only) ...")
    started = time.monotonic()
    current, new = state.start(args.data_dir, port=args.port, timeout=args.timeout,
                               fresh=args.fresh)
    if new:
        _err(f"Kafka {current.kafka_version} ready at {current.bootstrap_servers} in "
             f"{time.monotonic() - started:.1f} s (pid {current.pid}, data {current.data_dir}, "
             f"log {current.log_file})")
    else:
        _err(f"Kafka already running at {current.bootstrap_servers} (pid {current.pid})")
    print(current.bootstrap_servers, flush=True)
    return 0


def _stop(args: argparse.Namespace) -> int:
    current, killed = state.stop(grace=args.grace)
    if current is None:
        print("no dev Kafka broker is recorded as running")
    else:
        how = "killed (no clean shutdown within the grace period)" if killed else "stopped"
        print(f"{how} Kafka at {current.bootstrap_servers} (pid {current.pid}); "
              f"data kept in {current.data_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    found = state.status()
    code = (0 if found.reachable else EXIT_ERROR) if found.running else EXIT_NOT_RUNNING
    if args.json:
        print(json.dumps({"running": found.running, "reachable": found.reachable,
                          **(asdict(found.state) if found.state else {})}, indent=2))
        return code
    if found.state is None or not found.running:
        print("not running")
        return code
    current = found.state
    print(f"{'running' if found.reachable else 'running but not answering'}: "
          f"{current.bootstrap_servers}\n"
          f"  pid        {current.pid}\n  kafka      {current.kafka_version}\n"
          f"  started    {current.started_at}\n  data       {current.data_dir}\n"
          f"  log        {current.log_file}")
    return code


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "start": _start, "stop": _stop, "status": _status}


def run_dev_kafka(args: argparse.Namespace) -> int:
    """Run the parsed ``dev-kafka`` action; its exit code. Errors become one line on
    stderr and exit code 1."""
    try:
        return ACTIONS[args.dev_kafka_command](args)
    except DevKafkaError as error:
        _err(f"aor-processor {COMMAND} {args.dev_kafka_command}: error: {error}")
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    return run_dev_kafka(build_parser().parse_args(argv))
