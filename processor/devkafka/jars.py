"""Fetch the Kafka broker's jars from Maven Central into the cache, once.

A small pom (written next to the jars) depends on ``org.apache.kafka:kafka_2.13`` and on
``org.apache.logging.log4j:log4j-slf4j-impl``: the published kafka pom omits the SLF4J
binding that the release tarball ships, and without it the broker logs nothing.
``mvn dependency:copy-dependencies`` copies the runtime class path into a temporary folder
that is renamed to ``libs/`` when complete; a marker file then makes later calls free.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from processor.devkafka.errors import DevKafkaError
from processor.devkafka.paths import kafka_home
from processor.devkafka.versions import KAFKA_VERSION, LOG4J_VERSION

MARKER = ".complete"
MVN_ENV = "AOR_KAFKA_MVN"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
FETCH_TIMEOUT_SECONDS = 1800.0

_POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by processor.devkafka.jars: the class path of a Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0
                             https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>aor-processor.devkafka</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>{kafka_version}</version>
  <packaging>pom</packaging>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka_version}</version>
    </dependency>
    <!-- The SLF4J 1.x binding to log4j2: Kafka 4.x uses slf4j-api 1.7.x. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j_version}</version>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>{plugin_version}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
"""


def pom_xml(kafka_version: str = KAFKA_VERSION, log4j_version: str = LOG4J_VERSION) -> str:
    """The pom whose runtime dependencies are the broker's class path."""
    return _POM.format(kafka_version=kafka_version, log4j_version=log4j_version,
                       plugin_version=DEPENDENCY_PLUGIN_VERSION)


def jars_present(libs: Path) -> bool:
    """True when a complete copy is in ``libs`` (the marker is written last)."""
    return (libs / MARKER).is_file()


def find_mvn(env: Mapping[str, str] | None = None) -> Path:
    """``$AOR_KAFKA_MVN``, else ``mvn`` on the PATH."""
    env = os.environ if env is None else env
    found = env.get(MVN_ENV) or shutil.which("mvn", path=env.get("PATH"))
    if not found:
        raise DevKafkaError(
            "Maven (mvn) is needed once to fetch the Kafka broker jars from Maven Central; "
            f"install it (e.g. apt-get install maven) or set {MVN_ENV}")
    return Path(found)


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """An exclusive lock so that concurrent test sessions fetch once."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_dependencies(mvn: Path, pom: Path, target: Path, timeout: float) -> None:
    command = [str(mvn), "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
               "dependency:copy-dependencies", f"-DoutputDirectory={target}",
               "-DincludeScope=runtime"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise DevKafkaError(f"mvn did not finish fetching the Kafka jars in {timeout:.0f} s: "
                            f"{' '.join(command)}") from error
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise DevKafkaError(f"mvn failed ({done.returncode}) fetching the Kafka jars: "
                            f"{' '.join(command)}\n{tail}")
    if not any(target.glob("kafka_2.13-*.jar")):
        raise DevKafkaError(f"mvn succeeded but {target} has no kafka_2.13 jar")


def ensure_jars(kafka_version: str = KAFKA_VERSION, log4j_version: str = LOG4J_VERSION,
                home: Path | None = None, *, mvn: Path | None = None,
                timeout: float = FETCH_TIMEOUT_SECONDS) -> Path:
    """The folder of broker jars (``<home>/libs``), fetched with Maven if not there yet.

    ``home`` defaults to ``<cache root>/kafka-<version>`` (see ``paths.cache_root``).
    Idempotent and safe to call from concurrent processes.
    """
    home = kafka_home(kafka_version) if home is None else home
    libs = home / "libs"
    if jars_present(libs):
        return libs
    with _locked(home / ".fetch.lock"):
        if jars_present(libs):  # another process finished the fetch while we waited
            return libs
        mvn = find_mvn() if mvn is None else mvn
        pom = home / "pom.xml"
        pom.write_text(pom_xml(kafka_version, log4j_version), encoding="utf-8")
        partial = home / f"libs.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            _copy_dependencies(mvn, pom, partial, timeout)
            shutil.rmtree(libs, ignore_errors=True)
            partial.rename(libs)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        jars = sorted(path.name for path in libs.glob("*.jar"))
        (libs / MARKER).write_text(
            f"fetched {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n" + "\n".join(jars) + "\n",
            encoding="utf-8")
    return libs


def class_path(libs: Path) -> str:
    """The ``-cp`` argument for the jars in ``libs``."""
    return str(libs / "*")
