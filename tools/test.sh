#!/usr/bin/env bash
# Every test: lint, the library, the exercises both ways, the built book in a real browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
if [ ! -x /usr/bin/chromium ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y -qq chromium >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; }
fi
.venv/bin/ruff check .
bash tools/book.sh
export DCGAN_QUICK=1 MPLBACKEND=Agg
.venv/bin/python -m pytest "$@"
