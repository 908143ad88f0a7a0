"""Running a trained generator on batches of normalised tiles.

:class:`Predictor` is the predict function the mosaicker and the evaluator take: numpy in, numpy
out, the generator in eval mode (BatchNorm running statistics, no dropout) under
``torch.inference_mode``, so the same input always gives the same output.

Test-time augmentation (``tta=True``): each batch also goes through the generator rotated by 90,
180 and 270 degrees and mirrored (the 8 symmetries of a square, which training already draws its
windows under), every output is turned back onto the input's grid, and the 8 are averaged. A map
does not change meaning when the image is rotated, but a generator's output does a little: the
average is exactly equivariant (rotating the input rotates the output), smoother, and scored better
on held-out maps (``bench/README.md``), for 8 times the compute.

Masked input (``valid``): the pixels the input raster masks are filled from its valid ones
(:func:`~geo_pix2pix.models.prefill.fill_masked_input`, the rule training follows too) before the
generator reads the batch, so a valid pixel's prediction does not depend on what they hold.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, cast

import numpy as np
import torch

from geo_pix2pix.files.modelfile import ModelMeta, load_model, resolve_model_path
from geo_pix2pix.models.prefill import fill_masked_tiles
from geo_pix2pix.runtime.device import DevicePlan, plan_device
from geo_pix2pix.tiles.encoding.classes import ClassTable

__all__ = ["Engine", "Predictor", "TTA_TRANSFORMS", "dihedral_mean", "load_predictor"]

#: Number of test-time transforms: 4 rotations, each with and without a mirror.
TTA_TRANSFORMS = 8


def _dihedral(x: torch.Tensor, code: int) -> torch.Tensor:
    """Transform ``code`` (0..7) of the last two axes: rotation by ``code % 4`` quarter turns,
    then a left-right mirror if ``code >= 4`` (the same codes as the training augmentation)."""
    y = torch.rot90(x, code % 4, (-2, -1))
    return y.flip(-1) if code >= 4 else y


def _undo_dihedral(y: torch.Tensor, code: int) -> torch.Tensor:
    """Inverse of :func:`_dihedral`: mirror back first, then rotate back."""
    if code >= 4:
        y = y.flip(-1)
    return torch.rot90(y, -(code % 4), (-2, -1))


def dihedral_mean(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Mean of ``forward`` over the 8 transforms of ``x`` (``(N, C, H, W)``), each output turned
    back onto ``x``'s grid: rotations and mirrors of the input then rotate and mirror the result
    exactly alike. Float32 out."""
    total = forward(x).float()
    for code in range(1, TTA_TRANSFORMS):
        total = total + _undo_dihedral(forward(_dihedral(x, code)).float(), code)
    return total / TTA_TRANSFORMS


class Predictor:
    """Load a model file once; call with ``(N, C_in, T, T)`` float32 in [-1, 1].

    ``tta``: average over the 8 rotations/mirrors of each tile (see the module docstring).
    """

    def __init__(self, model: str | os.PathLike[str], device: str = "auto", amp: bool = True,
                 tta: bool = False) -> None:
        self.path = resolve_model_path(model)
        self.tta = tta
        self.plan: DevicePlan = plan_device(device, amp, inference=True)
        G, meta = load_model(self.path, self.plan.device)
        if self.plan.channels_last:
            G = G.to(memory_format=torch.channels_last)
        self.G: Any = G
        self.meta: ModelMeta = meta

    @property
    def tile(self) -> int:
        return self.meta.tile_size

    def __call__(self, tiles: np.ndarray, style: torch.Tensor | None = None,
                 valid: np.ndarray | None = None) -> np.ndarray:
        """``style``: ``(1, style_dim)`` style vector of a SPADE model with a style encoder, the
        same for every tile of a raster (:mod:`geo_pix2pix.inference.style`); None: the model's default.
        ``valid``: ``(N, 1, T, T)`` bool, the input's valid pixels (None: all valid); the others are
        filled before the generator reads them (module docstring)."""
        forward = self._forward if style is None else partial(self._forward, style=style.to(self.plan.device))
        x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))
        if self.plan.device.type == "cuda":
            x = x.pin_memory()  # page-locked: the copy to the GPU runs without a staging copy
        x = x.to(self.plan.device, non_blocking=True)
        with torch.inference_mode():
            x = fill_masked_tiles(x, valid, isinstance(self.meta.input_stats, ClassTable))
            y = dihedral_mean(forward, x) if self.tta else forward(x)
        return y.float().cpu().numpy()

    def _forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        if self.plan.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        amp = self.plan.autocast()
        args = () if style is None else (style.expand(x.shape[0], -1),)
        if amp is None:
            return cast(torch.Tensor, self.G(x, *args))
        with amp():
            return cast(torch.Tensor, self.G(x, *args))


class Engine(Protocol):
    """What translate, inpaint, evaluate and the API ask of a loaded model: the torch
    :class:`Predictor`, or ONNX Runtime's :class:`~geo_pix2pix.inference.onnx_engine.OnnxPredictor`."""

    path: Any
    meta: ModelMeta
    tta: bool
    plan: DevicePlan
    G: Any  # translate reads its ``multiple`` (the tile multiple) and, with --style, its style encoder

    def __call__(self, tiles: np.ndarray, style: torch.Tensor | None = None,
                 valid: np.ndarray | None = None) -> np.ndarray: ...


def load_predictor(model: str | os.PathLike[str], device: str = "auto", amp: bool = True,
                   tta: bool = False) -> Engine:
    """The engine for ``model``: ONNX Runtime for an exported ``.onnx`` file, torch for a run
    directory or a ``.safetensors`` model file. torch stays the engine of model files on every
    device: on a quiet CPU ONNX Runtime's float32 was no faster than torch's (bench/README.md)."""
    from geo_pix2pix.inference.onnx_engine import OnnxPredictor, is_onnx

    if is_onnx(model):
        return OnnxPredictor(model, device, amp, tta)
    return Predictor(model, device, amp, tta)
