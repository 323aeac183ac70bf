"""Apache Avro's Java tools (org.apache.avro:avro-tools) from Maven Central, fetched once
into the cache the Kafka jars use. The schema tests compile `schemas/` with them.

    .venv/bin/python -m tests.tools.avro_tools      # fetch now (scripts/setup.sh does)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from processor.devkafka.jars import DEPENDENCY_PLUGIN_VERSION, find_mvn
from processor.devkafka.paths import cache_root

AVRO_TOOLS_VERSION = "1.12.0"
ARTIFACT = f"org.apache.avro:avro-tools:{AVRO_TOOLS_VERSION}"


def avro_tools_jar() -> Path:
    """The jar, fetched with Maven on first use (a few seconds; about 55 MB)."""
    home = cache_root() / f"avro-tools-{AVRO_TOOLS_VERSION}"
    jar = home / f"avro-tools-{AVRO_TOOLS_VERSION}.jar"
    if jar.is_file():
        return jar
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as scratch:
        done = subprocess.run(
            [str(find_mvn()), "-q", "-B",
             f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy",
             f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={scratch}"],
            capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"could not fetch {ARTIFACT}: {done.stdout[-2000:]}"
                               f"{done.stderr[-2000:]}")
        fetched = Path(scratch) / jar.name
        shutil.move(str(fetched), jar)  # whole, or not at all
    return jar


if __name__ == "__main__":
    try:
        print(avro_tools_jar())
    except (RuntimeError, OSError) as failure:
        print(f"warning: {failure}", file=sys.stderr)
        sys.exit(1)
