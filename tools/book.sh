#!/usr/bin/env bash
# Build the book with every notebook executed; any cell error or Sphinx warning fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
export DCGAN_QUICK=${DCGAN_QUICK:-1} PYDEVD_DISABLE_FILE_VALIDATION=1
unset MPLBACKEND
.venv/bin/python tools/vendor.py
.venv/bin/python tools/explorer_build.py _vendor/explorer
rm -rf _build/html _build/.doctrees
.venv/bin/jupyter-book build . --warningiserror --nitpick --keep-going
echo "The book is at $(pwd)/_build/html/index.html"
