#!/usr/bin/env bash
# Set up (first run only), initialise the data directory and start the service on
# $HOST:$PORT (default 127.0.0.1:8000). Data: $FACEGATE_DATA or ./facegate-data (SQLite +
# in-process index). The install runs again only when .venv is missing or cannot import
# facegate; run scripts/setup.sh yourself after changing the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! { [ -x .venv/bin/python ] && .venv/bin/python -c 'import facegate.cli.main' 2>/dev/null \
       && [ -x .venv/bin/facegate ]; }; then
  bash scripts/setup.sh
fi
export FACEGATE_DATA=${FACEGATE_DATA:-./facegate-data}
.venv/bin/facegate init
exec .venv/bin/facegate serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
