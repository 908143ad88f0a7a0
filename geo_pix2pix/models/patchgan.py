"""The conditional PatchGAN discriminator (Isola et al. 2017, appendix 6.1.2).

It sees the input and an output (real or generated) concatenated along channels and returns a
map of logits, one per overlapping patch: ``C64-C128-C256-C512`` (4x4 convs, stride 2 except
the last, no norm on the first, LeakyReLU 0.2) and a final 4x4 conv to one channel. With the
default three layers each logit sees a 70x70 receptive field and a 256 tile yields a 30x30 map.
Receptive field for ``n`` layers: ``r = 4 + 3 + 3`` from the two stride-1 convs, then each of
the ``n`` stride-2 convs maps ``r -> 2r + 2``: 16, 34, 70, 142 for n = 1..4.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .unet import norm_layer

__all__ = ["PatchGAN", "receptive_field"]


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of one logit of an ``n_layers`` PatchGAN."""
    r = 1 + 3 + 3  # the two final stride-1 4x4 convs
    for _ in range(n_layers):
        r = 2 * r + 2  # a stride-2 4x4 conv: r' = (r - 1) * 2 + 4
    return r


class PatchGAN(nn.Module):
    """``(N, in_channels, T, T)`` -> ``(N, 1, P, P)`` logits (no sigmoid)."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        spectral = norm == "spectral"
        bias = norm != "batch"

        def conv(cin: int, cout: int, stride: int, has_bias: bool) -> nn.Module:
            c = nn.Conv2d(cin, cout, 4, stride, 1, bias=has_bias)
            return spectral_norm(c) if spectral else c

        layers: list[nn.Module] = [conv(in_channels, ndf, 2, True), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            layers.append(conv(ndf * prev, ndf * mult, 2 if n < n_layers else 1, bias))
            if not spectral:
                layers.append(norm_layer(norm, ndf * mult))
            layers.append(nn.LeakyReLU(0.2, True))
        layers.append(conv(ndf * mult, 1, 1, True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]
