"""The base of the families trained against multi-scale PatchGANs (pix2pixhd, spade, inpaint).

They share a set-up, declared once here: ``num_d`` discriminators at successive 2x downsamplings,
the discriminator feature-matching loss (Pix2PixHD, eq. 4) and, given local VGG19 weights, the
VGG perceptual loss; both papers use the same defaults (two scales, weights 10 and 10). A family
built on :class:`MultiScaleFamily` inherits the options (``geopix train`` shows each once), the
checks of the VGG weights, the discriminator config and these generator terms, and writes only
what differs: its own checks, its generator and its own terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from geo_pix2pix.families.base import Family
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.option_fields import option

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from geo_pix2pix.models.registry import DiscriminatorConfig
    from geo_pix2pix.runtime.device import DevicePlan
    from geo_pix2pix.tiles.encoding.classes import ClassTable
    from geo_pix2pix.tiles.encoding.normalize import BandStats
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.objective import GeneratorView, LossTerm

__all__ = ["MultiScaleOptions", "MultiScaleFamily", "feature_matching", "Perceptual"]


@dataclass(frozen=True)
class MultiScaleOptions:
    """Multi-scale discriminators, feature matching and the VGG perceptual loss."""

    num_d: int = option(2, "pix2pixhd, spade, inpaint: discriminators at successive 2x downsamplings.", min=1, max=4)
    lambda_feat: float = option(10.0, "pix2pixhd, spade, inpaint: weight of the discriminator feature-matching "
                                "loss.", min=0)
    vgg_weights: str | None = option(None, "pix2pixhd, spade, inpaint: local VGG19 weights (torchvision's layout, "
                                     ".pth or "
                                     ".safetensors) for the perceptual loss; nothing is downloaded; without it "
                                     "there is no perceptual loss.", kind="path")
    lambda_vgg: float = option(10.0, "pix2pixhd, spade, inpaint: weight of the VGG perceptual loss (with "
                               "--vgg-weights).",
                               min=0)


def feature_matching(g: GeneratorView) -> torch.Tensor:
    """``G_feat``: D's features of the fake pair matched to those of the real pair, the real ones
    computed with D as just updated, as constants
    (:func:`~geo_pix2pix.training.losses.feature_matching_loss`)."""
    import torch

    from geo_pix2pix.training.losses import feature_matching_loss

    pred_fake = g.d_fake()
    with torch.no_grad(), g.autocast():
        pred_real = g.D(torch.cat([g.batch.real_A, g.drawn.real_B], 1))
    return feature_matching_loss(pred_fake, pred_real, g.batch.valid)


class Perceptual:
    """``G_VGG``: the VGG perceptual loss of the drawn image, through the frozen ``net``
    (:class:`~geo_pix2pix.models.vgg.VGGLoss`)."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net

    def __call__(self, g: GeneratorView) -> torch.Tensor:
        import torch

        fake, real, valid = g.drawn.fake_B, g.drawn.real_B, g.batch.valid
        # nodata: the target's own pixels stand in for the prediction, so they cost nothing
        return cast(torch.Tensor, self.net(torch.where(valid, fake.float(), real.float()), real))


class MultiScaleFamily(Family):
    """A family trained against multi-scale PatchGANs with feature matching and, given VGG19
    weights, a perceptual loss. Subclasses give their options class (a subclass of
    :class:`MultiScaleOptions`), :meth:`check_family` and :meth:`generator_for`."""

    options: ClassVar[type | None] = MultiScaleOptions

    def check(self, cfg: TrainConfig, opts: Any) -> None:
        """The family's own checks, then the VGG19 weights file (read before any work)."""
        self.check_family(cfg, opts)
        if opts.vgg_weights:
            from geo_pix2pix.models.vgg import check_vgg_weights

            check_vgg_weights(opts.vgg_weights)

    def check_family(self, cfg: TrainConfig, opts: Any) -> None:
        """What this family refuses (one-line errors), before the shared checks."""

    def configure(self, cfg: TrainConfig, opts: Any, in_channels: int, out_channels: int,
                  head: Mapping[str, Any]) -> tuple[Any, DiscriminatorConfig]:
        if opts.vgg_weights and opts.lambda_vgg > 0 and out_channels != 3:
            raise GeopixError(f"the VGG perceptual loss needs 3-band (RGB) output; this model outputs {out_channels} "
                              "band(s): drop --vgg-weights")
        return (self.generator_for(cfg, opts, in_channels, out_channels),
                self.discriminator_for(cfg, opts, in_channels, out_channels))

    def generator_for(self, cfg: TrainConfig, opts: Any, in_channels: int = 3, out_channels: int = 3) -> Any:
        """The generator config of a run (recorded in the model file); also where the family's tile
        multiple comes from (``.multiple``), whatever the channels."""
        raise NotImplementedError

    def discriminator_for(self, cfg: TrainConfig, opts: Any, in_channels: int,
                          out_channels: int) -> DiscriminatorConfig:
        """``num_d`` conditional PatchGANs, judging the input and output bands together."""
        from geo_pix2pix.models.registry import DiscriminatorConfig

        return DiscriminatorConfig(in_channels=in_channels + out_channels, ndf=cfg.ndf, n_layers=cfg.d_layers,
                                   norm=cfg.d_norm, num_d=opts.num_d)

    def generator_terms(self, cfg: TrainConfig, opts: Any, plan: DevicePlan,
                        out_stats: BandStats | ClassTable) -> tuple[LossTerm, ...]:
        """Feature matching (``G_feat``), then the perceptual loss (``G_VGG``) with VGG19 weights
        and an RGB picture out (a categorical map learns its classes by cross-entropy alone)."""
        from geo_pix2pix.tiles.encoding.classes import ClassTable
        from geo_pix2pix.training.objective import LossTerm

        terms: list[LossTerm] = []
        if opts.lambda_feat > 0:
            terms.append(LossTerm("G_feat", opts.lambda_feat, feature_matching))
        if opts.vgg_weights and opts.lambda_vgg > 0 and not isinstance(out_stats, ClassTable):
            from geo_pix2pix.models.vgg import VGGLoss, load_vgg19_features

            net = VGGLoss(load_vgg19_features(opts.vgg_weights)).to(plan.device)
            terms.append(LossTerm("G_VGG", opts.lambda_vgg, Perceptual(net)))
        return tuple(terms)
