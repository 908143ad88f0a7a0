"""The Pix2Pix paper's U-Net generator (Isola et al. 2017, appendix 6.1.1).

Encoder ``C64-C128-C256-C512-C512-C512-C512-C512``: 4x4 convolutions with stride 2, so a
256-pixel tile is halved eight times down to a 1x1 bottleneck; no norm on the first block,
LeakyReLU(0.2). Decoder mirrors it with 4x4 transposed convolutions and ReLU, each block's
output concatenated with the encoder block of the same resolution (the skip connections that let
fine geometry, such as road edges, bypass the bottleneck). Dropout 0.5 sits in the decoder
blocks next to the bottleneck (three for 256 tiles), and a Tanh maps to [-1, 1].

The number of downsamplings follows the tile: ``log2`` of the tile's largest power-of-two
divisor, capped at 8 (a 128 tile has 7, a 512 tile keeps 8 and a 2x2 bottleneck); at least 5
are needed, so tiles must be multiples of 32. A fixed ``depth`` (5 to 8) builds fewer levels
whatever the tile: a smaller, faster network whose bottleneck keeps several cells of a training
window (a 128 tile at depth 5: 4x4), and which sees less context around each pixel (measured in
bench/README.md, issue 33's sixth round: not the CPU recipe).

``upsample="resize"`` replaces the decoder's transposed convolutions by nearest-neighbour
upsampling and a 3x3 convolution (:func:`upsampler`): no checkerboard, so a model of one pair
does not repeat a pattern on imagery it knows little of (``bench/periodicity.py``).

Built recursively like the reference implementation so the module structure, and hence the
parameter count (54,413,955 for 3->3 channels at 256 with batch norm; the reference prints
"54.414 M"), match it.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from geo_pix2pix.tiles.errors import TileSizeError

__all__ = ["UnetGenerator", "unet_depth", "norm_layer", "init_weights", "upsampler"]

MAX_DOWNS = 8
MIN_DOWNS = 5


def unet_depth(tile: int, depth: int = 0) -> int:
    """Number of stride-2 downsamplings for a tile: ``depth`` if given (0: log2 of the tile's
    power-of-two factor, <= 8, the paper's); the tile must be a multiple of ``2 ** depth``."""
    if depth and not MIN_DOWNS <= depth <= MAX_DOWNS:
        raise TileSizeError(f"the unet generator's depth (--unet-depth) must be {MIN_DOWNS} to {MAX_DOWNS} "
                            f"levels (0: from the tile), got {depth}")
    downs = 0
    while tile % (2 ** (downs + 1)) == 0 and downs < MAX_DOWNS:
        downs += 1
    if downs < MIN_DOWNS:
        raise TileSizeError(
            f"the unet generator needs a tile size that is a multiple of {2 ** MIN_DOWNS}, "
            f"got {tile}; use e.g. {max(2 ** MIN_DOWNS, (tile // 32) * 32 or 32)}"
        )
    if depth > downs:
        raise TileSizeError(f"a unet generator of depth {depth} needs a tile size that is a multiple of "
                            f"{2 ** depth}, got {tile}")
    return depth or downs


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``batch`` (running statistics, the paper's choice) or ``instance`` normalisation."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise ValueError(f"unknown norm {kind!r}")


def upsampler(kind: str, in_ch: int, out_ch: int, bias: bool) -> nn.Module:
    """A 2x upsampling layer. ``transposed``: the paper's 4x4 stride-2 transposed convolution,
    which computes even and odd output pixels with different kernel taps, so a flat input comes
    out as a pattern with a period of two pixels at that level (Odena et al. 2016, "Deconvolution
    and checkerboard artifacts"). ``resize``: nearest-neighbour 2x then a 3x3 convolution, which
    turns a flat input into a flat output, for about twice these layers' arithmetic."""
    if kind == "transposed":
        return nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=bias)
    if kind == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"),
                             nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=bias))
    raise ValueError(f"unknown upsampling {kind!r}; choose transposed or resize")


class _SkipBlock(nn.Module):
    """One resolution level: down -> (inner levels) -> up, output concatenated with the input."""

    def __init__(self, outer: int, inner: int, in_ch: int | None = None, sub: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, norm: str = "batch",
                 dropout: bool = False, upsample: str = "transposed") -> None:
        super().__init__()
        self.outermost = outermost
        bias = norm == "instance"  # BatchNorm has its own shift; a conv bias would be redundant
        in_ch = outer if in_ch is None else in_ch
        down = nn.Conv2d(in_ch, inner, 4, 2, 1, bias=bias)
        layers: list[nn.Module]
        if outermost:
            up = upsampler(upsample, inner * 2, outer, bias=True)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]  # type: ignore[list-item]
        elif innermost:
            up = upsampler(upsample, inner, outer, bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, norm_layer(norm, outer)]
        else:
            up = upsampler(upsample, inner * 2, outer, bias)
            layers = [nn.LeakyReLU(0.2, True), down, norm_layer(norm, inner), sub,  # type: ignore[list-item]
                      nn.ReLU(True), up, norm_layer(norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return cast(torch.Tensor, self.model(x))
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """The paper's U-Net: ``(N, in_channels, T, T)`` in [-1, 1] -> ``(N, out_channels, T, T)``."""

    def __init__(self, in_channels: int, out_channels: int, tile: int, ngf: int = 64,
                 norm: str = "batch", dropout: bool = True, depth: int = 0, upsample: str = "transposed") -> None:
        super().__init__()
        downs = unet_depth(tile, depth)
        kw: dict[str, Any] = {"norm": norm, "upsample": upsample}
        block = _SkipBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(downs - 5):  # the 512-channel levels between the bottleneck and C256
            block = _SkipBlock(ngf * 8, ngf * 8, sub=block, dropout=dropout, **kw)
        block = _SkipBlock(ngf * 4, ngf * 8, sub=block, **kw)
        block = _SkipBlock(ngf * 2, ngf * 4, sub=block, **kw)
        block = _SkipBlock(ngf, ngf * 2, sub=block, **kw)
        self.model = _SkipBlock(out_channels, ngf, in_ch=in_channels, sub=block, outermost=True, **kw)
        self.multiple = 2 ** downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.model(x))


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0."""

    def init(m: Any) -> None:
        name = type(m).__name__
        if hasattr(m, "weight") and m.weight is not None and ("Conv" in name or "Linear" in name):
            nn.init.normal_(m.weight, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    module.apply(init)
