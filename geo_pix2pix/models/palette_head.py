"""A palette head: the generator predicts which map colour each pixel is, then paints it.

A rendered map (or a categorical raster drawn with a colour table) holds a handful of colours.
An RGB generator has to hit them by regression, and classes whose colours differ by a small tone
step (the Google style's background (232,228,220) and buildings (242,240,233): about 10/255 per
channel) cost the L1 almost nothing when confused, so they stay confused.

With a palette head the body network (any registered generator) outputs one logit per palette
colour ``z_k``; the RGB output is the softmax-weighted mean of the colours,
``sum_k softmax(z)_k * c_k``, so it stays in the colours' convex hull and the L1, the GAN term and
the discriminator are used unchanged. Training adds a class cross-entropy on the logits (a
class's logit is the log-sum-exp of its colours' logits, so a class with several shades - anti-
aliased edges - is one class), which makes the class decision explicit. What it gained on maps256
over the CPU recipe, and for how long, is measured in ``bench/README.md``.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from geo_pix2pix.tiles.encoding.classes import nearest_colour_classes

__all__ = ["PaletteHead", "LOGIT_SCALE"]

#: The body's last layer is a Tanh (outputs in [-1, 1], as the paper's generator); scaled by 8 the
#: logits span a softmax from uniform to ~e^16 : 1, enough to paint a pure palette colour.
LOGIT_SCALE = 8.0


class PaletteHead(nn.Module):
    """Wrap ``body`` (``out_channels`` = number of colours) to output palette-painted RGB.

    Args:
        body: generator whose output has one channel per colour, in [-1, 1].
        colors: ``(K, C)`` palette colours in the output's normalised space.
        color_class: ``(K,)`` class index of every colour.
    """

    colors: torch.Tensor
    color_class: torch.Tensor

    def __init__(self, body: nn.Module, colors: torch.Tensor, color_class: torch.Tensor) -> None:
        super().__init__()
        self.body = body
        # buffers: they follow .to(device) and are rebuilt from the config, not stored weights
        self.register_buffer("colors", colors.float(), persistent=False)
        self.register_buffer("color_class", color_class.long(), persistent=False)
        self.n_classes = int(color_class.max()) + 1

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> ``(N, K, H, W)`` per-colour logits."""
        return cast(torch.Tensor, self.body(x).float() * LOGIT_SCALE)

    def paint(self, z: torch.Tensor) -> torch.Tensor:
        """Per-colour logits -> ``(N, C, H, W)`` RGB: the softmax-weighted mean colour."""
        return torch.einsum("nkhw,kc->nchw", z.softmax(1), self.colors)

    def class_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-colour logits -> ``(N, n_classes, H, W)``: log-sum-exp over each class's colours."""
        onehot = F.one_hot(self.color_class, self.n_classes).to(z.dtype)  # (K, n_classes)
        m = z.amax(1, keepdim=True)
        return torch.log(torch.einsum("nkhw,kj->njhw", (z - m).exp(), onehot).clamp_min(1e-30)) + m

    def target_classes(self, target: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` target -> ``(N, H, W)`` class of each pixel's nearest palette colour
        (:func:`~geo_pix2pix.tiles.encoding.classes.nearest_colour_classes`)."""
        return nearest_colour_classes(target, self.colors, self.color_class)

    def forward(self, x: torch.Tensor, with_logits: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        z = self.logits(x)
        rgb = self.paint(z)
        return (rgb, z) if with_logits else rgb
