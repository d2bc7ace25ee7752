"""Checkpoints that survive a crash: written atomically, read with ``weights_only=True``.

A checkpoint is first written to a temporary file beside its target, flushed to disk, and
then renamed over the target, so an interruption leaves either the old checkpoint or the new
one, never half a file. Loading uses ``torch.load(..., weights_only=True)``, which refuses
to run code hidden in a file. Explained in chapter 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import torch

FORMAT = "ssl_teach-checkpoint-1"


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, flush it to disk, then rename it over
    ``path``: an interruption leaves the old file or the new one, never half a file. Checkpoints
    and the results store (``ssl_teach.store``) are written this way."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts) to ``path`` atomically."""
    return atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True``.

    Raises ``FileNotFoundError`` when ``path`` does not exist and ``ValueError`` naming the
    file when it is corrupt, truncated or not an ``ssl_teach`` checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise ValueError(
            f"checkpoint {path} could not be read: it is corrupt, truncated or not a PyTorch "
            f"file ({type(error).__name__}: {str(error)[:200]})"
        ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not an ssl_teach checkpoint (format {found!r}, expected {FORMAT!r})")
    return state
