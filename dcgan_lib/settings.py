"""The settings of a training run, each written once: its default, its help, its check.

:class:`TrainConfig` is a dataclass whose fields carry their help text and their check in
the field's metadata; :meth:`TrainConfig.validate` runs the checks, :func:`add_arguments`
derives the command line from the same fields, and :data:`RESUME_MUST_MATCH` lists the
settings a resumed run must share with its checkpoint. Adding a setting is one line here.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields

from . import checks
from .data import COLOUR_DATASETS, DATASETS
from .latent import DISTRIBUTIONS
from .losses import GENERATOR_LOSSES
from .models import DOWNSAMPLING, IMAGE_SIZES, INITS, NORMS, OUTPUTS

TRAIN_DATASETS = (*DATASETS, *COLOUR_DATASETS, "folder")


def setting(default, help: str, check=None, resume: bool = False, cli: dict | None = None):
    """A field of :class:`TrainConfig`. ``check(name, value)`` raises for a bad value;
    ``resume``: a resumed run must have the checkpoint's value; ``cli``: extra argparse
    keywords."""
    return field(default=default, metadata={"help": help, "check": check, "resume": resume,
                                            "cli": cli or {}})


def _choice(allowed):
    return lambda name, value: checks.one_of(name, value, allowed)


def _unit(closed_right=True):
    return lambda name, value: checks.number_in(name, value, 0, 1, closed_right)


def _image_size(name, value):
    if isinstance(value, bool) or value not in IMAGE_SIZES:
        raise ValueError(f"{name} must be a power of two from 16 to 256 "
                         f"({', '.join(map(str, IMAGE_SIZES))}), got {value!r}")


def _device(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string such as 'auto', 'cpu' or 'cuda', "
                        f"got {type(value).__name__}")


def _folder(name, value):
    if value is not None and not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be a folder path or None, got {type(value).__name__}")
    if value is not None and not str(value).strip():
        raise ValueError(f"{name} must name a folder, got an empty path")


def _positive_or_none(name, value):
    if value is not None:
        checks.positive_number(name, value)


def _seed(name, value):
    if not checks.is_integer(value) or not 0 <= value < 2**64:
        raise ValueError(f"{name} must be an integer in [0, 2**64 - 1], got {value!r}")


@dataclass
class TrainConfig:
    """Every setting of a training run (see each field's help); :meth:`validate` checks."""

    dataset: str = setting("mnist", "mnist, fashion-mnist, cifar10, celeba (through "
                           "torchvision), or folder (your own images in --data-dir)",
                           _choice(TRAIN_DATASETS), True)
    data_dir: str | None = setting(None, "the folder of images for --dataset folder "
                                   "(sub-folders too), or torchvision's root for cifar10 and "
                                   "celeba; try --image-size 64", _folder, True)
    image_size: int = setting(32, "image side in pixels, a power of two 16..256",
                              _image_size, True)
    latent_dim: int = setting(100, "length of the latent vector z", checks.positive_int, True)
    width: int = setting(32, "D's first-layer channels (and G's last)",
                         checks.positive_int, True)
    g_norm: str = setting("batch", " / ".join(NORMS), _choice(NORMS), True)
    d_norm: str = setting("batch", " / ".join(NORMS), _choice(NORMS), True)
    leak: float = setting(0.2, "LeakyReLU slope in D, in [0, 1)", _unit(False), True)
    downsample: str = setting("strided", " / ".join(DOWNSAMPLING), _choice(DOWNSAMPLING),
                              True)
    g_loss: str = setting("non_saturating", " / ".join(GENERATOR_LOSSES),
                          _choice(GENERATOR_LOSSES), True)
    latent_dist: str = setting("gaussian", "gaussian N(0, 1) or uniform U(-1, 1)",
                               _choice(DISTRIBUTIONS), True)
    real_label: float = setting(1.0, "D's target for real images, in [0, 1]", _unit(), True)
    fake_label: float = setting(0.0, "D's target for generated images, in [0, 1]", _unit(),
                                True)
    epochs: int = setting(1, "passes over the training images", checks.positive_int)
    batch_size: int = setting(128, "images per minibatch in each process (torchrun with N "
                              "processes: N * batch_size in all)", checks.positive_int, True)
    lr: float = setting(2e-4, "Adam's step size", checks.positive_number, True)
    lr_g: float | None = setting(None, "G's step size (None: lr)", _positive_or_none, True)
    lr_d: float | None = setting(None, "D's step size (None: lr)", _positive_or_none, True)
    lr_decay_steps: int = setting(0, "the step sizes fall linearly to 0 at this step "
                                  "(0: constant)", checks.non_negative_int, True)
    lr_decay_start: int = setting(0, "the step at which that fall begins",
                                  checks.non_negative_int, True)
    beta1: float = setting(0.5, "Adam's first-moment decay (beta2 = 0.999)", _unit(False),
                           True)
    ema: float = setting(0.0, "decay of the generator's weight average in [0, 1) (0: none)",
                         _unit(False), True)
    seed: int = setting(0, "seed of every random draw", _seed, True)
    device: str = setting("auto", "auto, cpu, cuda, cuda:N or mps", _device)
    limit: int | None = setting(None, "train on the first N images",
                                checks.positive_int_or_none, True)
    max_steps: int | None = setting(None, "stop after this many steps in all",
                                    checks.positive_int_or_none)
    sample_every: int = setting(0, "steps between sample grids (0: never)",
                                checks.non_negative_int)
    log_every: int = setting(100, "steps between Loss_D/Loss_G lines when there is no "
                             "progress bar (0: never)", checks.non_negative_int)
    out: str | None = setting(None, "folder for weights, record and checkpoints", _folder,
                              cli={"required": True})
    checkpoint_every: int = setting(0, "steps between checkpoints (0: only at the end)",
                                    checks.non_negative_int, cli={"metavar": "STEPS"})
    fast: bool = setting(True, "the fast loop (--no-fast: the plain fp32 reference loop)",
                         checks.boolean)
    progress: bool = setting(True, "a progress bar", checks.boolean)
    sync_bn: bool = setting(False, "with torchrun: BatchNorm statistics over every "
                            "process's batch together", checks.boolean, True)
    init: str = setting("dcgan", "dcgan: weights ~ N(0, 0.02) in both networks; default: "
                        "PyTorch's own initialisation", _choice(INITS), True)
    g_leak: float = setting(0.0, "LeakyReLU slope in G, in [0, 1) (0: ReLU, as DCGAN)",
                            _unit(False), True)
    g_output: str = setting("tanh", "G's output: tanh (images in [-1, 1]) or linear "
                            "(unbounded)", _choice(OUTPUTS), True)
    d_hidden: int = setting(0, "units of a fully connected hidden layer before D's logit "
                            "(0: none, as DCGAN)", checks.non_negative_int, True)

    def validate(self) -> TrainConfig:
        """Raise ``ValueError``/``TypeError`` naming the first bad setting; return self."""
        for f in fields(self):
            f.metadata["check"](f.name, getattr(self, f.name))
        if (self.dataset == "folder" and self.data_dir is None) or (
                self.dataset in DATASETS and self.data_dir is not None):
            raise ValueError(f"data_dir goes with dataset='folder' (which needs one), "
                             f"'cifar10' or 'celeba', got dataset={self.dataset!r}, "
                             f"data_dir={self.data_dir!r}")
        if self.lr_decay_start and not self.lr_decay_start < self.lr_decay_steps:
            raise ValueError(f"lr_decay_start={self.lr_decay_start} must come before "
                             f"lr_decay_steps={self.lr_decay_steps}, where the fall ends")
        if self.checkpoint_every and self.out is None:
            raise ValueError(f"checkpoint_every={self.checkpoint_every} needs an output "
                             f"folder: set out")
        return self


RESUME_MUST_MATCH = tuple(f.name for f in fields(TrainConfig) if f.metadata["resume"])


def add_arguments(parser: argparse.ArgumentParser, config=TrainConfig) -> None:
    """One ``--option`` per setting of ``config``, with its default, type and help."""
    for f in fields(config):
        kind = (f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
                ).replace(" | None", "")
        kwargs = {"default": f.default, "help": f.metadata["help"], **f.metadata["cli"]}
        if kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = {"int": int, "float": float, "str": str}[kind]
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def from_arguments(args: argparse.Namespace, config=TrainConfig):
    """The ``config`` (a :class:`TrainConfig`) that :func:`add_arguments`' options parsed."""
    return config(**{f.name: getattr(args, f.name) for f in fields(config)})
