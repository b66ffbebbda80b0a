#!/usr/bin/env bash
# Every chapter and solution notebook in an emulated Google Colab at full fidelity: Python 3.13
# (from pyenv) and Colab's own torch 2.11 and torchvision 0.26 from the package index, every other
# package at the version Colab publishes (colab-constraints.txt), a fresh runtime and an empty
# working folder per notebook, dcgan_lib installed by the setup cell from a clone of this
# repository. The first run downloads about 2.6 GB (the index's torch is a CUDA build) into
# ~/.cache/dcgan-colab and installs it there once. Prints each notebook's result and time.
#   bash tools/colab_emulate.sh                          # all of them
#   bash tools/colab_emulate.sh book/05_latent_space.ipynb --all-warnings
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
python=${DCGAN_COLAB_PYTHON:-}
if [ -z "$python" ]; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | tail -1 || true)
  [ -n "$version" ] || { echo "needs Python 3.13: pyenv install 3.13, or set DCGAN_COLAB_PYTHON" >&2; exit 1; }
  python=$(pyenv root)/versions/$version/bin/python3.13
fi
exec .venv/bin/python tools/colab_emulation.py --full --python "$python" "$@"
