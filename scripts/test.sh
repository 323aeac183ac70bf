#!/usr/bin/env bash
# Set up, then lint, type-check and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check processor tests bench
echo "== mypy --strict"
.venv/bin/mypy --strict
echo "== pytest"
.venv/bin/pytest "$@"
