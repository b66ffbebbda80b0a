"""Quick or full mode: the one switch every chapter reads.

Full mode is for a reader with a GPU: real training and real numbers. Quick mode keeps
the same code paths on a small budget so that the book builds on two CPU cores. The mode
is full where CUDA is available and quick otherwise; the environment variable
``DCGAN_QUICK`` overrides it (``1`` for quick, ``0`` for full).
"""

from __future__ import annotations

import os

import torch

QUICK_ENV = "DCGAN_QUICK"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def quick_mode() -> bool:
    """True when chapters should run on a small budget (no GPU, or ``DCGAN_QUICK=1``)."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value == "":
        return not torch.cuda.is_available()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_ENV} must be one of 1/0, true/false, yes/no, on/off or unset, got {value!r}"
    )


def pick(quick, full):
    """Return ``quick`` in quick mode and ``full`` otherwise (sizes, step counts)."""
    return quick if quick_mode() else full
