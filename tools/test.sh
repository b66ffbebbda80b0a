#!/usr/bin/env bash
# Every test: lint, the library, the exercises both ways, the built book in a real browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
[ -x /usr/bin/chromium ] || bash tools/apt.sh chromium
.venv/bin/ruff check .
.venv/bin/python tools/colab.py sync --check
bash tools/book.sh
.venv/bin/python tools/exercises.py generate --check
export DCGAN_QUICK=1 MPLBACKEND=Agg
# OpenMP threads that spin while they wait compete with a notebook kernel's own threads
# on a small machine: on 2 cores the linear probe of chapter 6 took 54 s in a kernel
# against 3 s with waiting threads that sleep (the numbers are the same).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
.venv/bin/python -m pytest "$@" tests exercises --nbval-lax
