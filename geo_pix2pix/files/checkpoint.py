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

__all__ = ["save_checkpoint", "load_checkpoint", "training_state", "restore_training_state"]


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


def training_state(G: torch.nn.Module, D: torch.nn.Module, opt_G: torch.optim.Optimizer,
                   opt_D: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None, step: int,
                   elapsed: float, cuda: bool, rng_ranks: list[torch.Tensor] | None = None, *,
                   G_ema: torch.nn.Module | None = None) -> dict[str, Any]:
    """Everything a resume needs: weights, optimiser moments, scaler, step, RNG states, time spent.

    ``rng_ranks``: under torchrun, every rank's CPU RNG state (rank 0's is also ``rng_cpu``), so
    each rank continues its own dropout/noise stream. ``G_ema``: the averaged generator
    (:mod:`~geo_pix2pix.training.ema`), kept as ``G_ema`` next to the raw ``G`` it follows."""
    from geo_pix2pix._version import __version__

    state = {
        "step": step, "G": G.state_dict(), "D": D.state_dict(),
        "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "rng_cpu": torch.get_rng_state(), "elapsed": elapsed,
        "rng_cuda": [torch.cuda.get_rng_state()] if cuda else [],
        "geopix_version": __version__,
    }
    if rng_ranks is not None and len(rng_ranks) > 1:
        state["rng_ranks"] = list(rng_ranks)
    if G_ema is not None:
        state["G_ema"] = G_ema.state_dict()
    return state


def restore_training_state(state: dict[str, Any], G: torch.nn.Module, D: torch.nn.Module,
                           opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                           scaler: torch.amp.GradScaler | None, cuda: bool, rank: int = 0,
                           world: int = 1, *, seed: int, G_ema: torch.nn.Module | None = None) -> tuple[int, float]:
    """Load :func:`training_state` back; returns ``(step, seconds spent before)``.

    ``G_ema`` (a run averaging its generator) takes the checkpoint's average; a checkpoint written
    without one (the average switched on at a resume) starts it from the checkpoint's G.

    Rank ``rank`` of ``world`` takes its own RNG state when the checkpoint was written by as many
    ranks; with another rank count each rank's stream is re-seeded for the run's ``seed`` at the
    checkpoint's step (:func:`~geo_pix2pix.runtime.distributed.seed_rank_stream`): the run
    continues, not bit for bit."""
    from geo_pix2pix.models.registry import upgrade_discriminator_state
    from geo_pix2pix.runtime.distributed import seed_rank_stream

    try:
        G.load_state_dict(state["G"])
        D.load_state_dict(upgrade_discriminator_state(state["D"]))
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        if G_ema is not None:
            G_ema.load_state_dict(state.get("G_ema", state["G"]))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"the checkpoint does not fit this run's networks ({first_line(exc)[:200]})") from None
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    ranks = state.get("rng_ranks") or [state["rng_cpu"]]
    if len(ranks) == world:
        torch.set_rng_state(ranks[rank])
    else:
        seed_rank_stream(seed, rank, int(state["step"]))
    if cuda and state.get("rng_cuda") and world == 1:
        torch.cuda.set_rng_state(state["rng_cuda"][0])
    return int(state["step"]), float(state.get("elapsed", 0.0))
