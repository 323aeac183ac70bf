#!/usr/bin/env bash
# Set up, then replay the bundled sample and print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/aor-processor replay --input samples/sample --output out/sample "$@"
