"""Checkpoints: tensors in safetensors, everything else as JSON in the same file's header.

One checkpoint is one file, so replacing it is one atomic step. ``save`` writes the bytes
to a temporary file in the same folder, flushes and fsyncs it, then ``os.replace``s it over
the old checkpoint: a process killed at any moment leaves either the previous checkpoint
or the new one, never half of one. Loading never unpickles anything: safetensors holds
only raw tensors, and the rest is plain JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

META_KEY = "dcgan_lib"
CHUNK_BYTES = 1 << 20


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
