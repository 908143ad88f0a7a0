"""The Pix2PixHD coarse-to-fine generator (Wang et al. 2018, section 3.2).

The global generator G1 works at a coarse scale: a 7x7 convolution, ``n_downsample`` stride-2
3x3 convolutions (doubling the width each time), ``n_blocks`` residual blocks at the coarsest
resolution, and as many stride-2 transposed convolutions back up. Each local enhancer G2, G3, ...
sees the input at twice the resolution of the scale below it: its front end (7x7 conv, one
stride-2 conv) brings that input down to the coarser scale, where it is *added* to the last
feature map of the scale below (not its image output, whose head is dropped), and its back end
(residual blocks, one transposed conv) brings the sum up to its own resolution. Only the finest
scale has an image head (7x7 conv, Tanh). Widths halve at each finer scale: the global generator
has ``ngf * 2**n_local_enhancers`` filters, the finest enhancer ``ngf`` (paper: 64 and 32).

Tile multiple: the input pyramid halves the tile ``n_local_enhancers`` times (3x3 average
pooling, stride 2), and the global generator halves the coarsest input ``n_downsample`` times, so
the feature maps only line up (for the additions) and the output only has the input's size when
the tile side is a multiple of ``2 ** (n_downsample + n_local_enhancers)`` (``multiple``; 32 with
the defaults). The generator is fully convolutional: any multiple works, at any size.

Receptive field: the residual blocks sit at 1/16 of the global input's resolution, where each 3x3
conv widens the field by 32 input pixels, so the convolutions alone see 645 pixels of the global
input with the defaults (9 blocks, 4 downsamplings; measured from gradients) and 1,291 tile
pixels behind one local enhancer, wider than the usual 256-512 tiles. Instance norm makes the
field global in any case, since every feature map is normalised with its own tile's statistics.
That is the paper's choice (``norm="instance"``, without affine parameters, so the convs keep
their biases): each tile's features are freed of its overall brightness and contrast, which
suits imagery whose radiometry varies from scene to scene, and the generator behaves the same in
training and inference (no running statistics learnt from small batches).

Training, as in the paper: first train a global-only generator (``n_local_enhancers=0``) at half
the resolution; then build the enhanced one, copy the global weights in with :meth:`load_global`
(the global's head is discarded), train only the enhancers for a while with the global fixed
(``requires_grad`` off on :meth:`HDGenerator.global_parameters`, the fixed-global phase), and
finally fine-tune everything together. Weights are not initialised here: the caller applies
:func:`geo_pix2pix.models.unet.init_weights`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import cast

import torch
from torch import nn

from geo_pix2pix.models.unet import norm_layer
from geo_pix2pix.tiles.errors import GeopixError, TileSizeError

__all__ = ["HDGenerator", "LocalEnhancer", "ResnetBlock"]

NORMS = ("batch", "instance")


class ResnetBlock(nn.Module):
    """``x + conv(norm(relu(norm(conv(x)))))``: two reflection-padded 3x3 convs at one width."""

    def __init__(self, dim: int, norm: str) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm_layer(norm, dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm_layer(norm, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, x + self.block(x))


class LocalEnhancer(nn.Module):
    """One finer scale: ``up(down(x) + coarse)``, ``x`` at twice the resolution of ``coarse``."""

    def __init__(self, in_channels: int, ngf: int, n_blocks: int, norm: str) -> None:
        super().__init__()
        self.down = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), norm_layer(norm, ngf), nn.ReLU(True),
            nn.Conv2d(ngf, 2 * ngf, 3, 2, 1), norm_layer(norm, 2 * ngf), nn.ReLU(True),
        )
        self.up = nn.Sequential(
            *[ResnetBlock(2 * ngf, norm) for _ in range(n_blocks)],
            nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1), norm_layer(norm, ngf), nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.up(self.down(x) + coarse))


def _global_body(in_channels: int, ngf: int, n_downsample: int, n_blocks: int, norm: str) -> nn.Sequential:
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), norm_layer(norm, ngf),
                               nn.ReLU(True)]
    c = ngf
    for _ in range(n_downsample):
        layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm_layer(norm, 2 * c), nn.ReLU(True)]
        c *= 2
    layers += [ResnetBlock(c, norm) for _ in range(n_blocks)]
    for _ in range(n_downsample):
        layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm_layer(norm, c // 2), nn.ReLU(True)]
        c //= 2
    return nn.Sequential(*layers)


def _head(ngf: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh())


class HDGenerator(nn.Module):
    """Pix2PixHD generator: ``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)``.

    ``H`` and ``W`` must be multiples of :attr:`multiple`. With ``n_local_enhancers=0`` this is
    the paper's global generator G1 alone.
    """

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 32, n_downsample: int = 4,
                 n_blocks: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                 norm: str = "instance") -> None:
        super().__init__()
        for name, value, least in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                                   ("ngf", ngf, 1), ("n_downsample", n_downsample, 1), ("n_blocks", n_blocks, 0),
                                   ("n_local_enhancers", n_local_enhancers, 0), ("n_blocks_local", n_blocks_local, 0)):
            if value < least:
                raise GeopixError(f"the Pix2PixHD generator needs {name} >= {least}, got {value}")
        if norm not in NORMS:
            raise GeopixError(f"the Pix2PixHD generator's norm must be batch or instance, got {norm!r}")
        self.in_channels = in_channels
        self.n_local_enhancers = n_local_enhancers
        self.global_ngf = ngf * 2 ** n_local_enhancers
        self.multiple = 2 ** (n_downsample + n_local_enhancers)
        self._global_shape = (in_channels, self.global_ngf, n_downsample, n_blocks, norm)
        self.global_body = _global_body(in_channels, self.global_ngf, n_downsample, n_blocks, norm)
        if n_local_enhancers:
            self.enhancers = nn.ModuleList(
                LocalEnhancer(in_channels, ngf * 2 ** (n_local_enhancers - i), n_blocks_local, norm)
                for i in range(1, n_local_enhancers + 1)
            )
        # The paper's input pyramid; padding is left out of the averages so borders keep their level.
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.head = _head(ngf if n_local_enhancers else self.global_ngf, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise TileSizeError(f"the Pix2PixHD generator needs tile sides that are multiples of {self.multiple}, "
                                f"got {h}x{w}")
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        y = self.global_body(pyramid[-1])
        if self.n_local_enhancers:
            for enhancer, scale in zip(self.enhancers, reversed(pyramid[:-1]), strict=True):  # coarse to fine
                y = enhancer(scale, y)
        return cast(torch.Tensor, self.head(y))

    def global_parameters(self) -> Iterator[nn.Parameter]:
        """The global generator's parameters: freeze them for the fixed-global phase.

        With ``norm="batch"`` freezing the parameters leaves the running statistics moving in
        training mode; the paper's instance norm has none.
        """
        return self.global_body.parameters()

    def load_global(self, state: Mapping[str, torch.Tensor]) -> None:
        """Copy the ``global_body`` of a global-only generator's state dict into this one's.

        The global run's head (its 7x7 conv to an image) is discarded, as in the paper: here the
        global's last feature map feeds the local enhancers instead. Anything that does not fit
        (another width, depth, band count or norm) raises :class:`GeopixError`.
        """
        if any(k.startswith("enhancers.") for k in state):
            raise GeopixError("the global run's generator has local enhancers; load_global takes a global-only "
                              "generator (n_local_enhancers 0)")
        sub = {k[len("global_body."):]: v for k, v in state.items() if k.startswith("global_body.")}
        if not sub:
            raise GeopixError("the global run's state has no global_body weights; it is not a Pix2PixHD generator")
        for key, value in sub.items():
            if not isinstance(value, torch.Tensor):
                raise GeopixError(f"the global run's global_body.{key} is a {type(value).__name__}, not a tensor")
        mismatch = self._describe_mismatch(sub)
        if mismatch:
            raise GeopixError(mismatch)
        self.global_body.load_state_dict(sub)

    def _describe_mismatch(self, sub: Mapping[str, torch.Tensor]) -> str | None:
        """A one-line reason why ``sub`` (a global_body state, prefix removed) does not fit, or None."""
        in_ch, ngf, n_down, n_blocks, norm = self._global_shape
        first = sub.get("1.weight")
        if first is not None and first.dim() == 4:
            if first.shape[0] != ngf:
                return (f"the global run's generator has ngf {first.shape[0]} but this local enhancer needs a "
                        f"global of ngf {ngf} (--ngf x 2**n_local_enhancers)")
            if first.shape[1] != in_ch:
                return f"the global run's generator takes {first.shape[1]} input bands but this one takes {in_ch}"
        their_norm = "batch" if "2.running_mean" in sub else "instance"
        if their_norm != norm:
            return f"the global run's generator uses {their_norm} norm but this one uses {norm} norm"
        # Top-level convs (not inside residual blocks) are 1 + 2 * n_downsample; blocks are counted by index.
        blocks = {k.split(".")[0] for k in sub if ".block." in k}
        convs = {k.split(".")[0] for k in sub if k.endswith("weight") and ".block." not in k and sub[k].dim() == 4}
        if len(convs) % 2 == 1 and (len(convs) - 1) // 2 != n_down:
            return (f"the global run's generator has {(len(convs) - 1) // 2} downsamplings but this one's global "
                    f"has {n_down}")
        if len(blocks) != n_blocks:
            return f"the global run's generator has {len(blocks)} residual blocks but this one's global has {n_blocks}"
        ours = self.global_body.state_dict()
        for key, value in ours.items():
            if key not in sub:
                return f"the global run's generator does not fit this one: it has no global_body.{key}"
            if sub[key].shape != value.shape:
                return (f"the global run's global_body.{key} has shape {tuple(sub[key].shape)}, "
                        f"expected {tuple(value.shape)}")
        extra = sorted(set(sub) - set(ours))
        if extra:
            return f"the global run's generator does not fit this one: unexpected global_body.{extra[0]}"
        return None
