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

from geo_pix2pix.families import Family
from geo_pix2pix.families.shared import MultiScaleOptions, RecordedConfig, multiscale_weights, vgg_perceptual
from geo_pix2pix.tiles.errors import GeopixError, TileSizeError
from geo_pix2pix.training.option_fields import option

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from geo_pix2pix.models.registry import DiscriminatorConfig
    from geo_pix2pix.runtime.device import DevicePlan
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.step import LossWeights

__all__ = ["SPADEOptions", "SPADEGeneratorConfig", "Spade", "FAMILY"]


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


class Spade(Family):
    name: ClassVar[str] = "spade"
    summary: ClassVar[str] = "GauGAN: imagery painted from class layouts (SPADE generator), styles"
    options: ClassVar[type | None] = SPADEOptions
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({"paper": PAPER, "cpu": CPU})
    loss_terms: ClassVar[tuple[str, ...]] = ("G_GAN", "G_L1", "G_feat", "G_VGG", "G_KL")

    def check(self, cfg: TrainConfig, opts: SPADEOptions) -> None:
        if cfg.direction != "map2sat":
            raise GeopixError("the spade family paints imagery from a class layout: it needs --direction map2sat")
        if cfg.generator != "unet" or cfg.palette_head:
            raise GeopixError("--generator and --palette-head are pix2pix options; spade builds its own generator "
                              "(--ngf, --n-up, --spade-hidden)")
        multiple = 2 ** opts.n_up
        if cfg.tile % multiple or cfg.tile < 2 * multiple:
            ok = ", ".join(str(k * multiple) for k in range(max(2, cfg.tile // multiple), cfg.tile // multiple + 3))
            raise TileSizeError(f"the spade generator ({opts.n_up} upsamplings) takes tiles of at least two "
                                f"{multiple}-pixel steps, in multiples of {multiple}; --tile-size {cfg.tile} is not "
                                f"one (e.g. {ok}), or change --n-up")
        if opts.vgg_weights:
            from geo_pix2pix.models.vgg import check_vgg_weights

            check_vgg_weights(opts.vgg_weights)

    def check_sides(self, in_stats: Any, out_stats: Any) -> None:
        """The input must be classes; say how to get them otherwise."""
        if getattr(in_stats, "kind", None) != "categorical":
            raise GeopixError("the spade family paints from classes, but the map is not categorical: give a class "
                              "raster (or --map-kind categorical), vector layers (--layout), or "
                              "--classes-from-palette for a rendered map")

    def configure(self, cfg: TrainConfig, opts: SPADEOptions, in_channels: int, out_channels: int,
                  head: Mapping[str, Any]) -> tuple[SPADEGeneratorConfig, DiscriminatorConfig]:
        from geo_pix2pix.models.registry import DiscriminatorConfig

        if opts.vgg_weights and opts.lambda_vgg > 0 and out_channels != 3:
            raise GeopixError(f"the VGG perceptual loss needs 3-band (RGB) imagery; this imagery has {out_channels} "
                              "band(s): drop --vgg-weights")
        gcfg = SPADEGeneratorConfig(in_channels=in_channels, out_channels=out_channels, ngf=cfg.ngf, n_up=opts.n_up,
                                    hidden=opts.spade_hidden, style_dim=opts.style_dim if opts.style_encoder else 0)
        dcfg = DiscriminatorConfig(in_channels=in_channels + out_channels, ndf=cfg.ndf, n_layers=cfg.d_layers,
                                   norm=cfg.d_norm, num_d=opts.num_d)
        return gcfg, dcfg

    def generator_config(self, d: Mapping[str, Any]) -> SPADEGeneratorConfig:
        return SPADEGeneratorConfig.from_dict(d)

    def build_generator(self, gcfg: SPADEGeneratorConfig, init: bool = True) -> nn.Module:
        from geo_pix2pix.models.spade import SPADEGenerator

        # PyTorch's default (Kaiming-uniform) initialisation: the paper's normal(0, 0.02) starts every
        # modulation near 0, which with (1 + gamma) is what the default init gives as well
        return SPADEGenerator(gcfg.in_channels, gcfg.out_channels, gcfg.ngf, gcfg.n_up, gcfg.hidden, gcfg.style_dim)

    def loss_weights(self, cfg: TrainConfig, opts: SPADEOptions) -> LossWeights:
        return multiscale_weights(cfg, opts, kl=opts.lambda_kl if opts.style_encoder else 0.0)  # type: ignore

    def perceptual(self, cfg: TrainConfig, opts: SPADEOptions, plan: DevicePlan) -> nn.Module | None:
        return vgg_perceptual(opts, plan)  # type: ignore[no-any-return]

    def style_encoder(self, G: nn.Module) -> nn.Module | None:
        return G.encoder  # type: ignore[return-value]

    def d_lr_factor(self, opts: SPADEOptions) -> float:
        return float(opts.d_lr_factor)


FAMILY = Spade()
