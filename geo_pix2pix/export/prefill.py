"""The inpainting generator's pre-fill at a fixed pyramid depth, so that it exports as a static graph.

:func:`~geo_pix2pix.models.prefill.push_pull` averages known pixels down a pyramid of 2x2 blocks
until every block holds one (or the level is a single pixel), a depth that depends on the holes.
:func:`push_pull_levels` always goes ``levels`` levels down, enough for the tile to reach one pixel,
and gives the same values: at the level where the data-dependent loop stops every weight is
positive (or the level is 1x1), so on the way up that level's holes are empty and it takes its own
``v / w`` exactly as the loop's start does, whatever the deeper levels held; a 1x1 level pools and
upsamples to itself. (A tile without any known pixel gives 0 both ways.)
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from geo_pix2pix.models.prefill import SMOOTHING_STEPS, push_pull

__all__ = ["push_pull_levels", "FixedDepthPrefill", "levels_for"]


def levels_for(side: int) -> int:
    """Pyramid levels that take a ``side``-pixel tile down to one pixel (halving, rounding up)."""
    return max(1, math.ceil(math.log2(max(side, 2))))


def push_pull_levels(image: torch.Tensor, known: torch.Tensor, levels: int,
                     steps: int = SMOOTHING_STEPS) -> torch.Tensor:
    """:func:`~geo_pix2pix.models.prefill.push_pull` going ``levels`` levels down, whatever the holes."""
    return push_pull(image, known, steps, levels=levels)


class FixedDepthPrefill(nn.Module):
    """:class:`~geo_pix2pix.models.prefill.PrefilledGenerator`'s computation with the fixed-depth pre-fill."""

    def __init__(self, generator: nn.Module, levels: int) -> None:
        super().__init__()
        self.G, self.levels = generator, levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, hole = x[:, :-1], x[:, -1:]
        filled = push_pull_levels(image, 1.0 - hole.float(), self.levels).to(x.dtype)
        return cast(torch.Tensor, (filled + self.G(torch.cat([filled, hole], 1))).clamp(-1.0, 1.0))
