#!/usr/bin/env bash
# Set up (first run), initialise the data directory and start the service on 127.0.0.1:8000.
# Data: $FACEGATE_DATA or ./facegate-data (SQLite + in-process index).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FACEGATE_DATA=${FACEGATE_DATA:-./facegate-data}
.venv/bin/facegate init
exec .venv/bin/facegate serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
