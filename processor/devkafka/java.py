"""Find a Java runtime that the Kafka broker supports (17 or newer)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from processor.devkafka.errors import DevKafkaError
from processor.devkafka.versions import MIN_JAVA

JAVA_ENV = "AOR_KAFKA_JAVA"
_VERSION = re.compile(r'version "(?P<version>[^"]+)"')
_JVM_DIRS = (Path("/usr/lib/jvm"), Path("/usr/java"), Path("/opt/java"))


@dataclass(frozen=True)
class JavaRuntime:
    """A ``java`` executable and its major version."""

    executable: Path
    major: int


def parse_major(version_output: str) -> int | None:
    """The major version from ``java -version`` output: ``"17.0.15"`` -> 17,
    ``"1.8.0_402"`` -> 8, ``"25"`` -> 25; None if there is no version string."""
    match = _VERSION.search(version_output)
    if match is None:
        return None
    parts = re.split(r"[._+-]", match["version"])
    if parts[0] == "1" and len(parts) > 1:
        parts = parts[1:]
    return int(parts[0]) if parts[0].isdigit() else None


def java_major(executable: Path) -> int | None:
    """Run ``java -version``; None if it cannot run."""
    try:
        done = subprocess.run([str(executable), "-version"], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_major(done.stderr + done.stdout)


def _candidates(env: Mapping[str, str]) -> Iterator[Path]:
    if env.get(JAVA_ENV):
        yield Path(env[JAVA_ENV])
    if env.get("JAVA_HOME"):
        yield Path(env["JAVA_HOME"]) / "bin" / "java"
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        yield Path(on_path)
    for root in _JVM_DIRS:
        if root.is_dir():
            yield from sorted(root.glob("*/bin/java"))


def find_java(env: Mapping[str, str] | None = None, minimum: int = MIN_JAVA) -> JavaRuntime:
    """The first Java >= ``minimum`` among ``$AOR_KAFKA_JAVA`` (a ``java`` executable),
    ``$JAVA_HOME/bin/java``, ``java`` on the PATH and the JDKs under /usr/lib/jvm."""
    env = os.environ if env is None else env
    tried: dict[Path, int | None] = {}
    for candidate in _candidates(env):
        if not candidate.is_file() or candidate in tried:
            continue
        major = tried[candidate] = java_major(candidate)
        if major is not None and major >= minimum:
            return JavaRuntime(candidate, major)
    found = "; ".join(f"{path} ({major or 'unknown version'})"
                      for path, major in tried.items()) or "none"
    raise DevKafkaError(
        f"the Kafka broker needs Java {minimum} or newer; found: {found}. Install a JDK "
        f"(e.g. apt-get install openjdk-17-jre-headless) or set {JAVA_ENV} or JAVA_HOME.")
