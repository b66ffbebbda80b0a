#!/usr/bin/env bash
# Build one chapter alone (with the references), executed, into _build/page/html: a quick look
# at a page while writing it. Links to other pages are not checked here; tools/book.sh is
# the build that counts.
set -euo pipefail
cd "$(dirname "$0")/.."
page=${1:?usage: bash tools/page.sh book/04_training_dynamics}
page=${page%.ipynb}
toc=$(mktemp -d)/_toc.yml
printf 'format: jb-book\nroot: %s\nchapters:\n  - file: book/references\n' "$page" > "$toc"
export DCGAN_QUICK=${DCGAN_QUICK:-1} PYDEVD_DISABLE_FILE_VALIDATION=1
# OpenMP threads that spin while they wait compete with a notebook kernel's own threads
# on a small machine: on 2 cores the linear probe of chapter 6 took 54 s in a kernel
# against 3 s with waiting threads that sleep (the numbers are the same).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
unset MPLBACKEND
[ -d _vendor/mathjax ] || .venv/bin/python tools/vendor.py
rm -rf _build/page
.venv/bin/jupyter-book build . --toc "$toc" --path-output _build/page --keep-going
echo "The page is at $(pwd)/_build/page/_build/html/${page}.html"
