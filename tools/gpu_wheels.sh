#!/usr/bin/env bash
# Wheels for the GPU machine's Python 3.12, which has torch, numpy, matplotlib, pytest and
# safetensors but none of the Jupyter packages the chapters run under: fetched into .whl/
# here (it is git-ignored), carried there, and installed with
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir -p .whl
pkgs=(nbclient nbformat jupyter_client jupyter_core ipykernel ipython traitlets pyzmq tornado
      comm debugpy matplotlib-inline nest_asyncio ipywidgets widgetsnbextension
      jupyterlab_widgets decorator jedi parso pexpect ptyprocess prompt_toolkit wcwidth
      pure_eval asttokens executing stack_data fastjsonschema jsonschema
      jsonschema-specifications referencing rpds-py platformdirs ipython_pygments_lexers)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl "${pkgs[@]}"
ls .whl | wc -l
du -sh .whl
