#!/usr/bin/env bash
# Create .venv and install aor-processor with its dev tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "aor-processor needs Python >= 3.11; $PYTHON is $("$PYTHON" --version)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
# Headless Chromium opens the what-if report in tests/e2e/test_whatif_report.py. Installed
# only when missing, as root, with apt (Debian's `chromium`); otherwise that test skips.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium (apt-get) for the what-if report test" >&2
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq chromium >/dev/null; }; then
            echo "warning: could not install chromium; the what-if report test will skip" >&2
        fi
    else
        echo "warning: chromium is not installed (needs root and apt-get to install it);" \
             "the what-if report test will skip" >&2
    fi
fi
# Apache Avro's Java tools compile schemas/ in tests/contract/test_schema_set.py: fetched
# once from Maven Central into the cache the Kafka jars use (needs mvn and Java 17+).
if command -v mvn >/dev/null 2>&1; then
    .venv/bin/python -m tests.tools.avro_tools >/dev/null \
        || echo "warning: could not fetch avro-tools; the schema-set test will fetch it" >&2
fi
