"""Where the jar cache and the background dev broker's files live."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from processor.devkafka.versions import KAFKA_VERSION

CACHE_ENV = "AOR_KAFKA_CACHE"


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``$AOR_KAFKA_CACHE``, else ``$XDG_CACHE_HOME/aor-processor``, else
    ``~/.cache/aor-processor``."""
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "aor-processor"
    return Path.home() / ".cache" / "aor-processor"


def kafka_home(version: str = KAFKA_VERSION, env: Mapping[str, str] | None = None) -> Path:
    """``<cache root>/kafka-<version>``: the pom, the fetch lock and ``libs/``."""
    return cache_root(env) / f"kafka-{version}"


def libs_dir(version: str = KAFKA_VERSION, env: Mapping[str, str] | None = None) -> Path:
    """``<cache root>/kafka-<version>/libs``: the broker's class path."""
    return kafka_home(version, env) / "libs"


def dev_kafka_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<cache root>/dev-kafka``: state file and default data folder of ``dev-kafka``."""
    return cache_root(env) / "dev-kafka"
