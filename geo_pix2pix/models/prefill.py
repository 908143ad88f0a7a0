"""The inpainting generator's first stage: holes pre-filled smoothly, then the network paints.

A network that sees zeros in its holes must learn interpolation from scratch, and for a 2-pixel
stripe interpolation is nearly the whole answer: GDAL's FillNodata (inverse-distance weighting
from the hole's edge) is hard to beat there. So the generator first fills every hole with a
smooth *push-pull* interpolation (Gortler et al. 1996, "The Lumigraph", sec. 3.3): the known
pixels and their weights are averaged down a pyramid of 2x2 blocks until every block holds a known
pixel, then each level's holes take the upsampled values of the level above and are relaxed by
:data:`SMOOTHING_STEPS` Jacobi steps of Laplace's equation (each unknown pixel the mean of its 3x3
neighbourhood, known pixels fixed): a multigrid approach to the harmonic fill, the smoothest surface
through the hole's edge, at the cost of about 11 full-resolution steps. Measured on the bench's holes
(``bench/inpaint.py prefill``, bench/README.md): plain push-pull filled worse than GDAL's FillNodata
in thin holes (Landsat 2-px stripes PSNR 19.34 against 20.86 dB); relaxed, about as well there and
better in wide holes. Thin holes get their neighbours' values, wide holes a smooth blend of their
surroundings. The U-Net reads the pre-filled
image and its output is *added* to it (a residual, clipped to [-1, 1]): it has only texture, edges
and colour to add, which is what a GAN teaches, and an untrained network (whose output is near 0)
already fills as well as the interpolation. Measured (bench/README.md, Landsat stripes): a U-Net
that painted the pixels outright from the same input, trained 20 minutes, filled worse than the
interpolation alone. It is part of the model, so training and ``geopix inpaint`` compute the same.

Input and output as the wrapped generator's: ``(N, C + 1, T, T)`` (the image with unknown pixels
set to anything, and the unknown-pixel mask as the last channel) -> ``(N, C, T, T)``.

The same fill is the rule for every generator's masked input (:func:`fill_masked_input`): a pixel
the input raster masks (nodata, alpha, an internal mask, NaN) holds a value that means nothing, and
a generator reads a neighbourhood, so left as it is (a white 255 collar, say) it reaches the
predictions of the valid pixels beside it. Training and inference both call that function on the
batch the generator reads, so they agree, and a valid pixel's prediction depends only on valid
pixels.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["push_pull", "fill_masked_input", "fill_masked_tiles", "PrefilledGenerator", "SMOOTHING_STEPS"]

#: Jacobi steps of Laplace's equation at each level of the push-pull pyramid (module docstring).
SMOOTHING_STEPS = 8


def _relax(filled: torch.Tensor, hole: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` Jacobi steps of Laplace's equation in ``hole`` (edges replicated, the rest fixed)."""
    for _ in range(steps):
        filled = torch.where(hole, F.avg_pool2d(F.pad(filled, (1, 1, 1, 1), mode="replicate"), 3, 1), filled)
    return filled


def push_pull(image: torch.Tensor, known: torch.Tensor, steps: int = SMOOTHING_STEPS,
              levels: int | None = None) -> torch.Tensor:
    """``image`` ``(N, C, H, W)`` with its unknown pixels (``known`` ``(N, 1, H, W)`` 0/1) filled by
    push-pull interpolation, relaxed by ``steps`` Laplace steps at every level (0: plain
    push-pull); known pixels unchanged. A window without a known pixel gets 0.

    The pyramid goes down until every block holds a known pixel (or the level is one pixel), a
    depth that depends on the holes; ``levels`` fixes it instead (a graph that exports statically,
    :mod:`geo_pix2pix.export.prefill` says why the values are the same)."""
    image, known = image.float(), known.float()
    values, weights = [image * known], [known]

    def deeper() -> bool:
        if levels is not None:
            return len(values) <= levels
        return min(values[-1].shape[-2:]) > 1 and bool((weights[-1] <= 0).any())

    while deeper():
        values.append(F.avg_pool2d(values[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    filled = values[-1] / weights[-1].clamp_min(1e-8)
    for v, w in zip(reversed(values[:-1]), reversed(weights[:-1]), strict=True):
        up = F.interpolate(filled, size=v.shape[-2:], mode="bilinear", align_corners=False)
        hole = w <= 0
        filled = _relax(torch.where(hole, up, v / w.clamp_min(1e-8)), hole, steps)
    return torch.where(known > 0, image, filled)


def fill_masked_input(x: torch.Tensor, valid: torch.Tensor | None, classes: bool = False) -> torch.Tensor:
    """A generator's normalised input ``x`` ``(N, C, T, T)`` with the pixels ``valid``
    ``(N, 1, T, T)`` (bool, True = valid) leaves out filled from the valid ones alone.

    Values (imagery, measured maps, rendered maps): the push-pull fill of :func:`push_pull`, the
    smooth continuation of the valid pixels that inpainting reads too. Classes (a one-hot layout,
    ``classes``): "no class", every channel -1, the encoding of a code the table does not know: a
    fill would blend one-hot vectors into class mixtures the generator never reads elsewhere. Either
    way the masked pixels' own values are never read. ``x`` itself (no copy) when ``valid`` is None
    or every pixel is valid, so rasters without masked pixels give the same pixels as before.
    """
    if valid is None or bool(valid.all()):
        return x
    valid = valid.to(torch.bool)
    if classes:
        return x.masked_fill(~valid, -1.0)
    return push_pull(x.masked_fill(~valid, 0.0), valid).to(x.dtype)


class PrefilledGenerator(nn.Module):
    """``clip(f + G(cat(f, hole)))`` with ``f = push_pull(image, known)``: the wrapped generator reads
    the pre-filled image and adds to it."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.G = generator
        self.multiple = int(getattr(generator, "multiple", 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, hole = x[:, :-1], x[:, -1:]
        with torch.no_grad():
            filled = push_pull(image, 1.0 - hole.float()).to(x.dtype)
        return cast(torch.Tensor, (filled + self.G(torch.cat([filled, hole], 1))).clamp(-1.0, 1.0))


def fill_masked_tiles(x: torch.Tensor, valid: np.ndarray | None, classes: bool) -> torch.Tensor:
    """Tiles ``x`` with the pixels ``valid`` leaves out filled by :func:`fill_masked_input` (``classes``:
    a class-table input); ``valid`` None: all valid. Shared by the torch and the ONNX engines, so
    both read the same input."""
    if valid is None:
        return x
    mask = torch.from_numpy(np.ascontiguousarray(valid, dtype=bool)).to(x.device)
    return fill_masked_input(x, mask, classes)
