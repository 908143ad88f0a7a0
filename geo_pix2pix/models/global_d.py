"""Discriminators of patch-based inpainting (Demir and Unal 2018, "Patch-Based Image Inpainting with
Generative Adversarial Networks", arXiv 1803.07422).

Two critics judge a filled window: a PatchGAN (:class:`~.patchgan.PatchGAN`, 70x70 patches)
judges local texture, whether each patch of the filled area looks like the image around it; a
*global* discriminator sees the whole window and returns one logit, whether the fill fits the
window as a whole (a road that continues across the hole, a field edge that lines up). Both see
the window with its holes, the hole mask and the filled window, concatenated along channels.

:class:`LocalGlobalDiscriminator` returns them as two "scales" in the one output shape every GAN
loss reads (per critic, the list of its layer outputs ending with the logits), so the adversarial
loss is their mean (:func:`~geo_pix2pix.training.losses.adversarial_loss`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from geo_pix2pix.models.patchgan import MultiScaleDiscriminator, activations
from geo_pix2pix.models.unet import norm_layer

__all__ = ["GlobalDiscriminator", "LocalGlobalDiscriminator"]


class GlobalDiscriminator(nn.Module):
    """Stride-2 4x4 convolutions (``ndf``, doubling to at most ``8 ndf``) until the window is 4x4
    or smaller, then a mean over the remaining grid and a linear layer: one logit per window, of any
    window size (the mean makes it size-independent). Returns ``[features..., (N, 1, 1, 1) logits]``.
    """

    def __init__(self, in_channels: int, ndf: int = 64, tile: int = 256, norm: str = "batch") -> None:
        super().__init__()
        spectral = norm == "spectral"
        layers: list[nn.Module] = []
        cin, side, mult = in_channels, tile, 1
        first = True
        while side > 4:
            cout = ndf * mult
            conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=first or norm != "batch")
            layers.append(spectral_norm(conv) if spectral else conv)
            if not first and not spectral:
                layers.append(norm_layer(norm, cout))
            layers.append(nn.LeakyReLU(0.2, True))
            cin, side, mult, first = cout, side // 2, min(mult * 2, 8), False
        self.features = nn.Sequential(*layers)
        self.linear = nn.Linear(cin, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, last = activations(self.features, x)
        return [*outs, self.linear(last.mean(dim=(2, 3))).view(-1, 1, 1, 1)]


class LocalGlobalDiscriminator(nn.Module):
    """A (multi-scale) PatchGAN and, with ``global_d``, a :class:`GlobalDiscriminator`."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch", num_d: int = 1,
                 tile: int = 256, global_d: bool = True) -> None:
        super().__init__()
        self.local = MultiScaleDiscriminator(in_channels, ndf, n_layers, norm, num_d)
        self.whole = GlobalDiscriminator(in_channels, ndf, tile, norm) if global_d else None

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outs: list[list[torch.Tensor]] = self.local(x)
        return outs + [self.whole(x)] if self.whole is not None else outs
