"""Checkpoints: a training run's state, and a generator's weights, each one safetensors file.

Tensors go in safetensors, everything else as JSON in the same file's header. One
checkpoint is one file, so replacing it is one atomic step. ``save`` writes the bytes
to a temporary file in the same folder, flushes and fsyncs it, then ``os.replace``s it over
the old checkpoint: a process killed at any moment leaves either the previous checkpoint
or the new one, never half of one. Loading never unpickles anything: safetensors holds
only raw tensors, and the rest is plain JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from .models import Generator
from .settings import RESUME_MUST_MATCH, TrainConfig
from .steps import HISTORY_KEYS

META_KEY = "dcgan_lib"
CHUNK_BYTES = 1 << 20
CHECKPOINT_FORMAT = "dcgan_lib.checkpoint/2"
GENERATOR_FORMAT = "dcgan_lib.generator/1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, or not one this library wrote."""


def _write_all(f, data: bytes) -> None:
    """Write ``data`` in chunks of ``CHUNK_BYTES``."""
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_BYTES):
        f.write(view[start:start + CHUNK_BYTES])


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, whole."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # the mode an ordinary open() would give
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(path: str | Path) -> None:
    """Delete temporary files a killed ``save`` of ``path`` left behind."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def lock_folder(folder: Path):
    """Hold ``folder/.lock`` for this process (released when it exits, however it exits);
    ``ValueError`` if another run holds it, since two runs would overwrite each other."""
    import fcntl

    handle = open(Path(folder) / ".lock", "w")  # noqa: SIM115 (held for the run's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ValueError(f"another training run is writing into {folder}; give this one "
                         f"its own --out") from None
    return handle


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}


def save(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``tensors`` and the JSON-able ``meta`` to ``path`` atomically."""
    header = {META_KEY: json.dumps(meta, allow_nan=False)}
    atomic_write_bytes(path, _st_save(_contiguous(tensors), metadata=header))


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """``(tensors, meta)`` from a file ``save`` wrote; ``CheckpointError`` for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    data = path.read_bytes()
    try:
        tensors = _st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint ({_short(exc)})"
        ) from None
    meta = _read_meta(path, data)
    return tensors, meta


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _read_meta(path: Path, data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError:
        raise CheckpointError(f"{path} has an unreadable header") from None
    raw = (header.get("__metadata__") or {}).get(META_KEY)
    if raw is None:
        raise CheckpointError(
            f"{path} is a safetensors file but not a dcgan_lib checkpoint "
            f"(its header has no {META_KEY!r} entry)"
        )
    try:
        meta = json.loads(raw)
    except ValueError:
        raise CheckpointError(f"{path} has a corrupt {META_KEY!r} header entry") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} has a {META_KEY!r} header entry that is not an object")
    return meta


# Training checkpoints and generator files


def _optimizer_tensors(prefix: str, optimizer) -> dict[str, torch.Tensor]:
    state = optimizer.state_dict()["state"]
    return {f"{prefix}.{i}.{k}": v for i, s in state.items() for k, v in s.items()
            if torch.is_tensor(v)}


def _load_optimizer(optimizer, prefix: str, tensors: dict, path) -> None:
    current = optimizer.state_dict()
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            i, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(i), {})[name] = value
    n_params = len(current["param_groups"][0]["params"])
    if state and set(state) != set(range(n_params)):
        raise CheckpointError(f"{path} holds optimizer state for {len(state)} "
                              f"parameters, the model has {n_params}")
    params = optimizer.param_groups[0]["params"]
    for i, s in state.items():
        for name in ("exp_avg", "exp_avg_sq"):
            if name in s and tuple(s[name].shape) != tuple(params[i].shape):
                raise CheckpointError(f"{path} holds {prefix}.{i}.{name} of shape "
                                      f"{tuple(s[name].shape)} for a parameter of shape "
                                      f"{tuple(params[i].shape)}")
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})
    for p, s in optimizer.state.items():  # moments in the parameter's own memory layout
        for name in ("exp_avg", "exp_avg_sq"):
            if name in s:
                s[name] = torch.empty_like(p, dtype=s[name].dtype).copy_(s[name])


def _load_module(module, prefix: str, tensors: dict, path) -> None:
    expected = module.state_dict()
    for key, value in expected.items():
        got = tensors.get(f"{prefix}.{key}")
        if got is None:
            raise CheckpointError(f"{path} has no tensor {prefix}.{key}: it was not "
                                       f"written for this model")
        if tuple(got.shape) != tuple(value.shape):
            raise CheckpointError(
                f"{path} holds {prefix}.{key} of shape {tuple(got.shape)}, the model "
                f"expects {tuple(value.shape)}")
    module.load_state_dict({k: tensors[f"{prefix}.{k}"] for k in expected})


def save_checkpoint(path, netG, netD, optimizerG, optimizerD, scaler, cfg: TrainConfig,
                    step: int, seconds: float, history: dict, permutation,
                    shuffle: torch.Generator, device: torch.device, average=None,
                    world_size: int = 1) -> None:
    """Everything a resumed run needs to continue bit for bit, written atomically;
    ``average`` is the generator's weight average when ``cfg.ema`` asks for one."""
    tensors = {f"generator.{k}": v for k, v in netG.state_dict().items()}
    if average is not None:
        tensors |= {f"generator_average.{k}": v for k, v in average.state_dict().items()}
    tensors |= {f"discriminator.{k}": v for k, v in netD.state_dict().items()}
    tensors |= _optimizer_tensors("optimizer_d", optimizerD)
    tensors |= _optimizer_tensors("optimizer_g", optimizerG)
    tensors["rng.cpu"] = torch.get_rng_state()
    tensors["rng.shuffle"] = shuffle.get_state()
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    if permutation is not None:
        tensors["permutation"] = permutation
    # the grids due every sample_every steps; a run's extra grid at its end is its own
    samples = [(s, grid) for s, grid in history["samples"]
               if cfg.sample_every and s % cfg.sample_every == 0]
    for i, (_, grid) in enumerate(samples):
        tensors[f"samples.{i}"] = grid
    meta = {"format": CHECKPOINT_FORMAT, "config": asdict(cfg), "step": step,
            "world_size": world_size,
            "seconds": seconds, "history": {k: history[k] for k in HISTORY_KEYS},
            "sample_steps": [s for s, _ in samples],
            "grad_scaler": scaler.state_dict() if scaler is not None else None}
    save(path, tensors, meta)


def load_checkpoint(path, cfg: TrainConfig, netG, netD, optimizerG, optimizerD, scaler,
                    shuffle: torch.Generator, device: torch.device, average=None,
                    world_size: int = 1) -> dict:
    """Restore a :func:`save_checkpoint` file into the given objects.

    Returns ``{"step", "seconds", "history", "permutation"}``. Raises ``CheckpointError``
    (a ``ValueError``) naming the file and what is wrong with it.
    """
    tensors, meta = load(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a {meta.get('format')!r} file, expected a "
                                   f"{CHECKPOINT_FORMAT!r} training checkpoint")
    if meta.get("world_size", 1) != world_size:
        raise ValueError(f"{path} was written by a run of {meta.get('world_size', 1)} "
                         f"process(es), this run has {world_size}; resume with the same "
                         f"number of processes")
    saved = meta.get("config", {})
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} has a config that is not a record of settings "
                              f"({type(saved).__name__})")
    for name in RESUME_MUST_MATCH:
        was = saved.get(name, getattr(TrainConfig, name, None))  # older files: the default
        if was != getattr(cfg, name):
            raise ValueError(f"{path} was trained with {name}={was!r}, this "
                             f"run asks for {name}={getattr(cfg, name)!r}; resume with the "
                             f"same {name}")
    _load_module(netG, "generator", tensors, path)
    if average is not None:
        _load_module(average, "generator_average", tensors, path)
    _load_module(netD, "discriminator", tensors, path)
    _load_optimizer(optimizerD, "optimizer_d", tensors, path)
    _load_optimizer(optimizerG, "optimizer_g", tensors, path)
    try:
        torch.set_rng_state(tensors["rng.cpu"])
        shuffle.set_state(tensors["rng.shuffle"])
        if device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    except (KeyError, RuntimeError):
        raise CheckpointError(f"{path} has no valid random-number state") from None
    if scaler is not None and meta.get("grad_scaler"):
        scaler.load_state_dict(meta["grad_scaler"])
    try:
        history = {k: list(meta["history"][k]) for k in HISTORY_KEYS}
        history["samples"] = [(s, tensors[f"samples.{i}"])
                              for i, s in enumerate(meta.get("sample_steps", []))]
        step, seconds = int(meta["step"]), float(meta["seconds"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an incomplete training record "
                                   f"(missing or bad {exc})") from None
    bad = [k for k in HISTORY_KEYS for v in history[k]
           if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise CheckpointError(f"{path} has a training record whose {bad[0]!r} holds "
                              f"something other than numbers")
    if len(history["step"]) != step:
        raise CheckpointError(f"{path} records {len(history['step'])} steps of history "
                                   f"for step {step}")
    return {"step": step, "seconds": seconds, "history": history,
            "permutation": tensors.get("permutation")}


def save_generator(path, netG: Generator, cfg: TrainConfig) -> None:
    """The generator's weights as safetensors; the header holds how to rebuild it."""
    meta = {"format": GENERATOR_FORMAT, "generator": netG.arch(), "latent_dist": cfg.latent_dist,
            "config": asdict(cfg)}
    save(path, netG.state_dict(), meta)


def load_generator(path, device="cpu") -> Generator:
    """A :class:`Generator` in eval mode from a file :func:`save_generator` wrote."""
    tensors, meta = load(path)
    if meta.get("format") != GENERATOR_FORMAT:
        raise CheckpointError(f"{path} is a {meta.get('format')!r} file, expected a "
                                   f"{GENERATOR_FORMAT!r} generator")
    netG = Generator(**meta["generator"])
    _load_module(netG, "", {f".{k}": v for k, v in tensors.items()}, path)
    return netG.to(device).eval()
