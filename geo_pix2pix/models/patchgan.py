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

from geo_pix2pix.models.unet import norm_layer

__all__ = ["PatchGAN", "MultiScaleDiscriminator", "receptive_field", "activations"]


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of one logit of an ``n_layers`` PatchGAN."""
    r = 1 + 3 + 3  # the two final stride-1 4x4 convs
    for _ in range(n_layers):
        r = 2 * r + 2  # a stride-2 4x4 conv: r' = (r - 1) * 2 + 4
    return r


def activations(layers: nn.Sequential, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``x`` through ``layers``: the output of every LeakyReLU (the features feature matching
    compares), and the last layer's output."""
    outs: list[torch.Tensor] = []
    for layer in layers:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            outs.append(x)
    return outs, x


class PatchGAN(nn.Module):
    """``(N, in_channels, T, T)`` -> the list of its layers' outputs, ending with the
    ``(N, 1, P, P)`` logits (no sigmoid).

    The intermediate outputs (after each LeakyReLU: ``n_layers + 1`` of them) are what Pix2PixHD's
    feature-matching loss compares between real and generated pairs.
    """

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

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, logits = activations(self.model, x)
        return [*outs, logits]


class MultiScaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs, the k-th seeing the input average-pooled ``k`` times (Pix2PixHD, sec. 3.2).

    At scale 0 a 70x70 PatchGAN judges texture; at scale 1 the same architecture on the 2x
    downsampled pair has a 142-pixel field in input pixels, at scale 2 a 286-pixel one: the coarse
    discriminators judge global structure (a road network's continuity) without a deeper network.
    Pooling is a 3x3 average with stride 2 that ignores padding, so borders are not darkened.

    Returns, per scale, the list of that PatchGAN's layer outputs ending with its logits: the one
    output shape every GAN loss and the feature-matching loss read (one scale for Pix2Pix).
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 num_d: int = 1) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchGAN(in_channels, ndf, n_layers, norm) for _ in range(num_d))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                x = self.pool(x)
            outs.append(d(x))
        return outs
