"""The GauGAN / SPADE family (Park et al., CVPR 2019): imagery painted from a class layout.

The layout is the map side of a pair read as classes (``--direction map2sat``): a categorical
raster, vector layers rasterised onto the imagery grid (``geopix train --layout``), or a rendered
map read through a palette (``--classes-from-palette``). The generator is
:class:`~geo_pix2pix.models.spade.SPADEGenerator` (the layout injected at every scale); the
discriminator is the multi-scale PatchGAN with spectral norm; the loss is the hinge GAN loss plus
the discriminator feature-matching loss, the VGG perceptual loss with local weights, and with
``--style-encoder`` the KL term of the style encoder; the two networks learn at two time-scales
(the discriminator ``--d-lr-factor`` times faster, TTUR).

Defaults and why:

- ``--recipe paper`` (the GPU default) is the paper's: ngf 64 (1024 channels at the coarsest
  grid), 128 hidden channels in each SPADE, 256 x 256 tiles, 5 upsamplings, two discriminator
  scales of ndf 64 with spectral norm, hinge loss, feature matching 10, VGG 10 (with weights), KL
  0.05, Adam beta (0, 0.999), learning rates 1e-4 (G) and 4e-4 (D), no L1.
- ``--recipe cpu`` keeps the architecture and the losses but shrinks the networks for 2 CPU cores:
  128-pixel tiles in batches of 4, ngf 16, 32 hidden channels, 4 upsamplings (an 8 x 8 coarsest
  grid), ndf 32, learning rates 4e-4 / 1.6e-3, and an L1 term (weight 10) towards the real image:
  without VGG weights and at a CPU budget, feature matching alone leaves colours wandering for
  thousands of steps; the L1 anchors them to the real image's (bench/README.md measures the result).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from geo_pix2pix.families.base import RecordedConfig
from geo_pix2pix.families.multiscale import MultiScaleFamily, MultiScaleOptions
from geo_pix2pix.families.pix2pix import unet_shape_given
from geo_pix2pix.tiles.errors import GeopixError, TileSizeError
from geo_pix2pix.training.option_fields import option

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from geo_pix2pix.runtime.device import DevicePlan
    from geo_pix2pix.tiles.encoding.classes import ClassTable
    from geo_pix2pix.tiles.encoding.normalize import BandStats
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.objective import Batch, Draw, Drawn, GeneratorView, LossTerm, Networks

__all__ = ["SPADEOptions", "SPADEGeneratorConfig", "Spade", "StyleDraw", "style_kl", "FAMILY"]


@dataclass(frozen=True)
class SPADEOptions(MultiScaleOptions):
    """SPADE's own training options (``geopix train --family spade``), after the shared multi-scale
    ones (``--num-d``, ``--lambda-feat``, ``--vgg-weights``, ``--lambda-vgg``)."""

    n_up: int = option(5, "spade: nearest-neighbour 2x upsamplings of the generator (tiles in multiples of "
                       "2**n-up).", min=1, max=7)
    spade_hidden: int = option(128, "spade: hidden channels of each SPADE's modulation network.", min=1)
    style_encoder: bool = option(False, "spade: train a style encoder (VAE, KL term) so that translate can paint "
                                 "in the style of a reference image (--style) or of a random draw (--seed).")
    style_dim: int = option(256, "spade: length of the style vector (with --style-encoder).", min=1)
    lambda_kl: float = option(0.05, "spade: weight of the style encoder's KL term.", min=0)
    d_lr_factor: float = option(4.0, "spade: the discriminator's learning rate as a multiple of --lr (two "
                                "time-scale update rule; 1: one rate).", min=0, min_open=True)


@dataclass(frozen=True)
class SPADEGeneratorConfig(RecordedConfig):
    """Architecture of a SPADE generator, as the model file records it."""

    name: str = "spade"
    in_channels: int = 2
    out_channels: int = 3
    ngf: int = 64
    n_up: int = 5
    hidden: int = 128
    style_dim: int = 0

    @property
    def multiple(self) -> int:
        """Tile sides must be multiples of this (the generator's upsampling product)."""
        return int(2 ** self.n_up)


PAPER: Mapping[str, Any] = MappingProxyType({
    "direction": "map2sat", "tile": 256, "batch_size": 1, "ngf": 64, "ndf": 64, "d_norm": "spectral",
    "gan_loss": "hinge", "lambda_l1": 0.0, "lr": 1e-4, "beta1": 0.0, "beta2": 0.999})

CPU: Mapping[str, Any] = MappingProxyType({
    "direction": "map2sat", "tile": 128, "batch_size": 4, "ngf": 16, "ndf": 32, "d_norm": "spectral",
    "gan_loss": "hinge", "lambda_l1": 10.0, "lr": 4e-4, "beta1": 0.0, "beta2": 0.999, "n_up": 4,
    "spade_hidden": 32})


class StyleDraw:
    """SPADE's draw with a style encoder: ``fake_B = G(real_A, z)``, ``z`` drawn from the encoder's
    Gaussian for ``real_B`` (reparameterisation, ``z = mu + eps * exp(logvar / 2)``), so G learns to
    paint the real image's style and the encoder to describe it; ``mu`` and ``logvar`` go to the KL
    term (:func:`style_kl`)."""

    def __init__(self, encoder: nn.Module) -> None:
        self.encoder = encoder

    def __call__(self, nets: Networks, batch: Batch) -> Drawn:
        import torch

        from geo_pix2pix.training.objective import Drawn, generate

        mu, logvar = self.encoder(batch.real_B)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        fake_B, logits = generate(nets, batch.real_A, z)
        return Drawn(fake_B, batch.real_B, batch.valid, logits, {"mu": mu, "logvar": logvar})


def style_kl(g: GeneratorView) -> torch.Tensor:
    """``G_KL``: the style encoder's KL term of the style it drew
    (:func:`~geo_pix2pix.training.losses.kl_divergence`)."""
    from geo_pix2pix.training.losses import kl_divergence

    return kl_divergence(g.drawn.aux["mu"], g.drawn.aux["logvar"])


class Spade(MultiScaleFamily):
    name: ClassVar[str] = "spade"
    summary: ClassVar[str] = "GauGAN: imagery painted from class layouts (SPADE generator), styles"
    options: ClassVar[type | None] = SPADEOptions
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({"paper": PAPER, "cpu": CPU})

    def check_family(self, cfg: TrainConfig, opts: SPADEOptions) -> None:
        if cfg.direction != "map2sat":
            raise GeopixError("the spade family paints imagery from a class layout: it needs --direction map2sat")
        if cfg.generator != "unet" or unet_shape_given(cfg) or cfg.palette_head:
            raise GeopixError("--generator, --unet-depth, --upsample and --palette-head are pix2pix options; "
                              "spade builds its own generator "
                              "(--ngf, --n-up, --spade-hidden)")
        multiple = self.generator_for(cfg, opts).multiple
        if cfg.tile % multiple or cfg.tile < 2 * multiple:
            ok = ", ".join(str(k * multiple) for k in range(max(2, cfg.tile // multiple), cfg.tile // multiple + 3))
            raise TileSizeError(f"the spade generator ({opts.n_up} upsamplings) takes tiles of at least two "
                                f"{multiple}-pixel steps, in multiples of {multiple}; --tile-size {cfg.tile} is not "
                                f"one (e.g. {ok}), or change --n-up")

    def check_sides(self, in_stats: BandStats | ClassTable, out_stats: BandStats | ClassTable) -> None:
        """The input must be classes; say how to get them otherwise."""
        if getattr(in_stats, "kind", None) != "categorical":
            raise GeopixError("the spade family paints from classes, but the map is not categorical: give a class "
                              "raster (or --map-kind categorical), vector layers (--layout), or "
                              "--classes-from-palette for a rendered map")

    def generator_for(self, cfg: TrainConfig, opts: SPADEOptions, in_channels: int = 2,
                      out_channels: int = 3) -> SPADEGeneratorConfig:
        return SPADEGeneratorConfig(in_channels=in_channels, out_channels=out_channels, ngf=cfg.ngf, n_up=opts.n_up,
                                    hidden=opts.spade_hidden, style_dim=opts.style_dim if opts.style_encoder else 0)

    def generator_config(self, d: Mapping[str, Any]) -> SPADEGeneratorConfig:
        return SPADEGeneratorConfig.from_dict(d)

    def build_generator(self, gcfg: SPADEGeneratorConfig, init: bool = True) -> nn.Module:
        from geo_pix2pix.models.spade import SPADEGenerator

        # PyTorch's default (Kaiming-uniform) initialisation: the paper's normal(0, 0.02) starts every
        # modulation near 0, which with (1 + gamma) is what the default init gives as well
        return SPADEGenerator(gcfg.in_channels, gcfg.out_channels, gcfg.ngf, gcfg.n_up, gcfg.hidden, gcfg.style_dim)

    def d_lr_factor(self, opts: SPADEOptions) -> float:
        return float(opts.d_lr_factor)

    def draw(self, G: nn.Module, opts: SPADEOptions) -> Draw:
        """With a style encoder, G paints the style drawn for the real image (:class:`StyleDraw`)."""
        if G.encoder is None:
            return super().draw(G, opts)
        return StyleDraw(G.encoder)  # type: ignore[arg-type]

    def generator_terms(self, cfg: TrainConfig, opts: SPADEOptions, plan: DevicePlan,
                        out_stats: BandStats | ClassTable) -> tuple[LossTerm, ...]:
        """The multi-scale terms, then the style encoder's KL term (``G_KL``)."""
        from geo_pix2pix.training.objective import LossTerm

        terms = super().generator_terms(cfg, opts, plan, out_stats)
        if opts.style_encoder and opts.lambda_kl > 0:
            terms += (LossTerm("G_KL", opts.lambda_kl, style_kl),)
        return terms


FAMILY = Spade()
