#!/usr/bin/env bash
# Set up (first run), lint, type-check and run the test suite with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A throwaway Milvus server for the milvus index backend's tests (tests/test_milvus_index.py):
# the wheel ships the server binary; its launcher needs only the standard library, and its own
# client pins (pymilvus<2.4) clash with the client facegate uses (pymilvus 3, in ".[test]"),
# so it is installed without dependencies. Linux only (no other platform has a wheel).
if [ "$(uname -s)" = Linux ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "milvus==2.3.5"
fi
# The console and public pages are tested in Debian's Chromium (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: apt-get install chromium (the browser tests need it)" >&2
  fi
fi
# The PDF documents are rasterised with poppler's pdftoppm (tests/test_pdf_glyphs.py).
if ! command -v pdftoppm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
  else
    echo "pdftoppm is missing: apt-get install poppler-utils (the PDF glyph tests need it)" >&2
  fi
fi
.venv/bin/ruff check src tests bench scripts stress
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
