#!/usr/bin/env bash
# Build the book with every notebook executed; any cell error or Sphinx warning fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
export DCGAN_QUICK=${DCGAN_QUICK:-1} PYDEVD_DISABLE_FILE_VALIDATION=1
# OpenMP threads that spin while they wait compete with a notebook kernel's own threads
# on a small machine: on 2 cores the linear probe of chapter 6 took 54 s in a kernel
# against 3 s with waiting threads that sleep (the numbers are the same).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
unset MPLBACKEND
.venv/bin/python tools/vendor.py
.venv/bin/python tools/explorer_build.py _vendor/explorer
rm -rf _build/html _build/.doctrees
.venv/bin/jupyter-book build . --warningiserror --nitpick --keep-going
echo "The book is at $(pwd)/_build/html/index.html"
