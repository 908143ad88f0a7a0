"""The SPADE generator and style encoder (Park et al., CVPR 2019, "Semantic Image Synthesis with
Spatially-Adaptive Normalization"), written from the paper.

**SPADE** (sec. 3.1): a parameter-free normalisation of the activations ``h`` (batch norm without
affine parameters), then a per-pixel scale and bias computed from the class layout ``m``::

    SPADE(h, m) = BN(h) * (1 + gamma(m)) + beta(m)

where ``gamma`` and ``beta`` are two 3x3 convolutions on a shared 3x3 convolution + ReLU of ``m``
resized (nearest neighbour, so classes never blend) to ``h``'s grid. The paper writes the scale as
``gamma``; geopix predicts it as a residual around 1 (``1 + gamma``), the same family of functions,
so that a freshly initialised block starts as a plain batch norm. Because the layout re-enters at
every scale, normalisation can no longer "wash away" the classes as it does in a U-Net fed the
layout once.

**Generator** (sec. 3.2, appendix A): SPADE residual blocks (SPADE, ReLU, 3x3 conv, twice; a
learned SPADE + 1x1 shortcut when the width changes) from a coarse grid up to the tile by
nearest-neighbour 2x upsampling, spectral norm on every convolution of the residual path, a final
3x3 conv and tanh. Its input is the layout downsampled to the coarsest grid and convolved, the
paper's variant without an encoder; it is fully convolutional, so a tile of any multiple of
``2 ** n_up`` pixels works and translate's overlapping tiles see the same function everywhere.

**Styles** (sec. 4, "multi-modal synthesis"): the style encoder (stride-2 3x3 convolutions with
instance norm, global average pooling, two linear heads) maps a real image to the mean and log
variance of a Gaussian over a ``z_dim`` style vector; training draws ``z`` by reparameterisation
and adds a KL term towards N(0, I). The paper feeds ``z`` through a linear layer into a 4x4 grid
at the generator's input, which ties the style to the tile's position; geopix instead adds a linear
image of ``z`` as a per-channel bias to the hidden layer of every SPADE's modulation network. The
style thereby steers the scale and bias at every resolution after normalisation (a constant offset
at the input would be removed by the first batch norm of a batch of one), and, being constant over
space, it costs nothing at tile borders: one ``z`` per raster gives one style across a mosaic.
Without an encoder, or with ``z = 0`` (the prior's mean), the output is deterministic.

Batch norm, not instance norm: at translate time (eval mode) it uses the running statistics, so a
tile's output does not depend on which other pixels share its tile, and a mosaic has no seams.
"""

from __future__ import annotations

from typing import Final, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

#: Padding of every 3x3 convolution of the generator. Reflection, not zeros: a tile's border pixels
#: then see a continuation of the layout rather than a black frame, which a fully convolutional
#: generator with a receptive field wider than translate's overlap would otherwise draw into
#: every tile's margin (measured: zero padding left visible tile lines in mosaics; see bench/README.md).
PAD: Final = "reflect"

__all__ = ["SPADE", "SPADEResBlock", "SPADEGenerator", "StyleEncoder", "layout_channels"]


def layout_channels(layout: torch.Tensor) -> torch.Tensor:
    """A layout as geopix reads classes (one-hot in {-1, +1}, nodata all -1) -> one-hot in {0, 1}
    (nodata all 0), the paper's input."""
    return (layout + 1.0) * 0.5


class SPADE(nn.Module):
    """``BN(h) * (1 + gamma(m)) + beta(m)``, with ``gamma``/``beta`` from the layout at ``h``'s grid.

    ``style_dim`` > 0 adds ``Linear(z)`` to the hidden layer of the modulation network (see the
    module docstring); ``z=None`` then counts as ``z = 0``.
    """

    def __init__(self, channels: int, label_nc: int, hidden: int = 128, style_dim: int = 0) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Conv2d(label_nc, hidden, 3, padding=1, padding_mode=PAD)
        self.style = nn.Linear(style_dim, hidden) if style_dim else None
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1, padding_mode=PAD)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1, padding_mode=PAD)

    def forward(self, h: torch.Tensor, layout: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        m = F.interpolate(layout, size=h.shape[-2:], mode="nearest")
        a = self.shared(m)
        if self.style is not None and z is not None:
            a = a + self.style(z).to(a.dtype)[:, :, None, None]
        a = F.relu(a)
        return cast(torch.Tensor, self.norm(h) * (1 + self.gamma(a)) + self.beta(a))


class SPADEResBlock(nn.Module):
    """SPADE, ReLU, 3x3 conv, twice, plus a shortcut (learned when ``cin != cout``)."""

    def __init__(self, cin: int, cout: int, label_nc: int, hidden: int, style_dim: int) -> None:
        super().__init__()
        mid = min(cin, cout)
        self.norm_0 = SPADE(cin, label_nc, hidden, style_dim)
        self.conv_0 = spectral_norm(nn.Conv2d(cin, mid, 3, padding=1, padding_mode=PAD))
        self.norm_1 = SPADE(mid, label_nc, hidden, style_dim)
        self.conv_1 = spectral_norm(nn.Conv2d(mid, cout, 3, padding=1, padding_mode=PAD))
        self.learned_shortcut = cin != cout
        if self.learned_shortcut:
            self.norm_s = SPADE(cin, label_nc, hidden, style_dim)
            self.conv_s = spectral_norm(nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor, layout: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        skip = self.conv_s(self.norm_s(x, layout, z)) if self.learned_shortcut else x
        h = self.conv_0(F.relu(self.norm_0(x, layout, z)))
        h = self.conv_1(F.relu(self.norm_1(h, layout, z)))
        return cast(torch.Tensor, skip + h)


def _width(ngf: int, level: int) -> int:
    """Channels at ``level`` halvings below the tile: ngf, 2ngf, 4ngf, ... capped at 16ngf (the
    paper's 1024 for ngf 64)."""
    return ngf * min(int(2 ** level), 16)


class SPADEGenerator(nn.Module):
    """``(N, K, T, T)`` layout (one-hot in {-1, +1}) -> ``(N, out_channels, T, T)`` in [-1, 1].

    ``n_up`` upsamplings from a ``T / 2**n_up`` grid: a head block and a middle block there, then
    per upsampling one block halving the width (``_width``). ``style_dim`` > 0 builds the style
    encoder too (``self.encoder``), which reads ``out_channels``-band images.
    """

    def __init__(self, label_nc: int, out_channels: int = 3, ngf: int = 64, n_up: int = 5, hidden: int = 128,
                 style_dim: int = 0) -> None:
        super().__init__()
        self.n_up = n_up
        self.style_dim = style_dim
        top = _width(ngf, n_up)
        self.fc = nn.Conv2d(label_nc, top, 3, padding=1, padding_mode=PAD)
        self.head = SPADEResBlock(top, top, label_nc, hidden, style_dim)
        self.middle = SPADEResBlock(top, top, label_nc, hidden, style_dim)
        self.ups = nn.ModuleList(SPADEResBlock(_width(ngf, lv + 1), _width(ngf, lv), label_nc, hidden, style_dim)
                                 for lv in reversed(range(n_up)))
        self.conv_img = nn.Conv2d(ngf, out_channels, 3, padding=1, padding_mode=PAD)
        # as many halvings as the generator has: a training tile (at least two coarsest cells wide)
        # leaves the encoder at least 2 x 2 cells for its instance norm
        self.encoder = StyleEncoder(out_channels, ngf, style_dim, layers=n_up) if style_dim else None

    @property
    def multiple(self) -> int:
        """Tile sides must be multiples of this."""
        return int(2 ** self.n_up)

    def forward(self, layout: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        m = layout_channels(layout)
        size = (m.shape[-2] >> self.n_up, m.shape[-1] >> self.n_up)
        x = self.fc(F.interpolate(m, size=size, mode="nearest"))
        z = style if self.style_dim else None
        if z is None and self.style_dim:
            z = m.new_zeros((m.shape[0], self.style_dim))  # the prior's mean: deterministic
        x = self.middle(self.head(x, m, z), m, z)
        for block in self.ups:
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"), m, z)
        return torch.tanh(self.conv_img(F.relu(x)))


class StyleEncoder(nn.Module):
    """``(N, C, T, T)`` image in [-1, 1] -> ``(mu, logvar)``, each ``(N, style_dim)``.

    Stride-2 3x3 convolutions (spectral norm, instance norm, LeakyReLU 0.2), as many as the
    generator has upsamplings, of widths ngf, 2ngf, 4ngf, 8ngf, 8ngf..., then a global average: any
    tile size gives one style vector (the paper resizes to 256 and flattens a 4x4 grid). The mean over a
    reference raster's tiles of ``mu`` is its style at translate time.
    """

    def __init__(self, in_channels: int, ngf: int, style_dim: int, layers: int = 5) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c = in_channels
        for i in range(layers):
            w = ngf * min(2 ** i, 8)
            blocks += [spectral_norm(nn.Conv2d(c, w, 3, 2, 1)), nn.InstanceNorm2d(w), nn.LeakyReLU(0.2, True)]
            c = w
        self.body = nn.Sequential(*blocks)
        self.mu = nn.Linear(c, style_dim)
        self.logvar = nn.Linear(c, style_dim)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(image).float().mean(dim=(2, 3))
        return self.mu(h), self.logvar(h)

