"""Training checkpoints: everything needed to continue a run exactly, loaded without pickle code.

A checkpoint holds the generator, discriminator, both optimisers, the AMP scaler, the step and
the RNG states. It is written with ``torch.save`` (temporary file + rename) and read with
``torch.load(weights_only=True)``, whose unpickler only rebuilds tensors and plain containers:
a planted checkpoint whose pickle would run code is refused instead of executed.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from geo_pix2pix.tiles.atomic import atomic_path
from geo_pix2pix.tiles.errors import CheckpointError, first_line

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically."""
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (RuntimeError, OSError) as exc:  # torch reports a full disk as a RuntimeError
        raise CheckpointError(
            f"could not write checkpoint {path} ({first_line(exc)}); is the disk full? "
            "The previous checkpoint is unchanged"
        ) from None


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint on the CPU, refusing anything but tensors and plain containers."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"no checkpoint at {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{p} holds objects that are not plain tensors and was refused ({first_line(exc)[:160]})"
        ) from None
    except Exception as exc:
        raise CheckpointError(f"{p} is corrupt or truncated ({type(exc).__name__}: {str(exc)[:160]})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{p} is not a geopix checkpoint")
    return state
