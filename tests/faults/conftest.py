"""Fixtures of the fault suite (``@pytest.mark.faults``).

The suite restarts its broker, so it starts its own ``LocalKafka`` (from the Maven jars;
Java 17+) rather than sharing the session's. ``FAST_SESSION_EXPIRY`` lets a restarted
broker register again in about 3 s.

- ``AOR_FAULTS_SCALE``: ``ci`` (default: about 20,000 events, 3 kills) or ``large``
  (about 200,000 events, 12 kills).
- ``AOR_FAULTS_SEED``: another history and fault plan (default 7).
- ``AOR_FAULTS_REPORT``: also write the figures (JSON) to this path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from processor.devkafka.broker import LocalKafka
from processor.devkafka.config import FAST_SESSION_EXPIRY
from processor.devkafka.errors import DevKafkaError
from processor.devkafka.java import find_java

_FIGURES: pytest.StashKey[list[str]] = pytest.StashKey()


@dataclass(frozen=True)
class Scale:
    name: str
    members: int  # the generator writes about 2.2 events per member
    kills: int
    deadline_s: float  # the whole fault run, final run included


SCALES = {
    "ci": Scale("ci", 9_000, 3, 900.0),
    "large": Scale("large", 91_000, 12, 5400.0),
}


@pytest.fixture(scope="session")
def fault_scale() -> Scale:
    name = os.environ.get("AOR_FAULTS_SCALE", "ci").strip().lower() or "ci"
    if name not in SCALES:
        raise pytest.UsageError(f"AOR_FAULTS_SCALE={name!r}: expected one of "
                                f"{', '.join(SCALES)}")
    return SCALES[name]


@pytest.fixture(scope="session")
def fault_seed() -> int:
    return int(os.environ.get("AOR_FAULTS_SEED", "7"))


@pytest.fixture
def fault_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of the test's own, to restart; stopped (and its data removed with the
    pytest temporary folders) at the end."""
    try:
        find_java()
    except DevKafkaError as error:
        pytest.skip(f"the fault suite starts and restarts its own broker: {error}")
    with LocalKafka(tmp_path_factory.mktemp("fault-kafka"),
                    extra_properties=FAST_SESSION_EXPIRY) as kafka:
        yield kafka


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Keep a line for the end-of-session summary (shown with or without ``-s``)."""

    def keep(line: str) -> None:
        request.config.stash.setdefault(_FIGURES, []).append(line)

    return keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in terminalreporter.config.stash.get(_FIGURES, []):
        terminalreporter.write_line(line)
