"""The Pix2Pix family (Isola et al., CVPR 2017): a U-Net generator (the paper's, or a U-Net on a
segmentation-models-pytorch encoder), one conditional PatchGAN, adversarial + lambda * L1.

Its options are TrainConfig's own (``--generator``, ``--ngf``, ``--norm``, ...); its recipes are the
paper's configuration and the CPU recipe (:data:`geo_pix2pix.training.config.CPU_RECIPE`). Model files
written before families existed are Pix2Pix files: their generator config is this family's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from geo_pix2pix.families.base import Family
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.config import RECIPES

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from geo_pix2pix.models.registry import DiscriminatorConfig, GeneratorConfig
    from geo_pix2pix.training.config import TrainConfig

__all__ = ["Pix2Pix", "FAMILY", "check_unet", "pix2pix_generator", "unet_shape_given"]


def unet_shape_given(cfg: TrainConfig) -> bool:
    """Whether the run asks for a U-Net shape other than the paper's (``--unet-depth``,
    ``--upsample``): options only the unet generator takes, which other generators refuse."""
    return bool(cfg.unet_depth) or cfg.upsample != "transposed"


def check_unet(cfg: TrainConfig) -> None:
    """Refuse a U-Net the run cannot build, in one line before anything is written:
    ``--unet-depth`` or ``--upsample`` with an smp generator (its shape is its encoder's and
    segmentation-models-pytorch's decoder), or a depth the training tile is not a multiple of."""
    if cfg.generator != "unet":
        if unet_shape_given(cfg):
            raise GeopixError(f"--unet-depth and --upsample are for the unet generator; {cfg.generator} has its "
                              "encoder's depth and smp's decoder")
        return
    from geo_pix2pix.models.unet import unet_depth

    unet_depth(cfg.tile, cfg.unet_depth)


def pix2pix_generator(cfg: TrainConfig, in_channels: int, out_channels: int, dropout: bool = True,
                      head: Mapping[str, Any] | None = None) -> GeneratorConfig:
    """The Pix2Pix generator a run's options describe (``--generator``, ``--ngf``, ``--norm``, the
    U-Net's shape, smp's encoder weights), for this family and for those that reuse its U-Net
    (inpainting reads one more channel and trains without dropout); ``head``: an output head's
    fields (:mod:`~geo_pix2pix.training.output_head`)."""
    from geo_pix2pix.models.registry import GeneratorConfig

    return GeneratorConfig(name=cfg.generator, in_channels=in_channels, out_channels=out_channels, tile=cfg.tile,
                           ngf=cfg.ngf, norm=cfg.norm, dropout=dropout, depth=cfg.unet_depth, upsample=cfg.upsample,
                           encoder_weights=cfg.encoder_weights, **(head or {}))


class Pix2Pix(Family):
    name: ClassVar[str] = "pix2pix"
    summary: ClassVar[str] = "U-Net (or smp encoder U-Net) + PatchGAN, adversarial + lambda * L1"
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]] = RECIPES

    def check(self, cfg: TrainConfig, opts: Any) -> None:
        check_unet(cfg)

    def configure(self, cfg: TrainConfig, opts: Any, in_channels: int, out_channels: int,
                  head: Mapping[str, Any]) -> tuple[GeneratorConfig, DiscriminatorConfig]:
        from geo_pix2pix.models.registry import DiscriminatorConfig

        gcfg = pix2pix_generator(cfg, in_channels, out_channels, head=head)
        dcfg = DiscriminatorConfig(in_channels=in_channels + out_channels, ndf=cfg.ndf, n_layers=cfg.d_layers,
                                   norm=cfg.d_norm)
        return gcfg, dcfg

    def generator_config(self, d: Mapping[str, Any]) -> GeneratorConfig:
        from geo_pix2pix.models.registry import GeneratorConfig

        return GeneratorConfig.from_dict(dict(d))

    def build_generator(self, gcfg: Any, init: bool = True) -> nn.Module:
        from geo_pix2pix.models.registry import build_generator

        return build_generator(gcfg, init=init)


FAMILY = Pix2Pix()
