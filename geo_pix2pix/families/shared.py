"""Options that several families share, declared once: a family's options class inherits them.

Pix2PixHD and SPADE both train against multi-scale PatchGANs with the discriminator
feature-matching loss and, given local VGG19 weights, a perceptual loss; both papers use the same
defaults (two scales, weights 10 and 10). ``geopix train`` shows each shared option once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from geo_pix2pix.training.option_fields import option

__all__ = ["MultiScaleOptions", "RecordedConfig", "multiscale_weights", "vgg_perceptual"]

C = TypeVar("C", bound="RecordedConfig")


class RecordedConfig:
    """JSON round trip of a family's frozen generator config, as the model file records it; keys
    a newer geopix wrote that this one does not know are ignored."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[C], d: Mapping[str, Any]) -> C:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})


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


def multiscale_weights(cfg: Any, opts: MultiScaleOptions, **extra: float) -> Any:
    """The loss weights of a family trained with :class:`MultiScaleOptions`: the GAN loss, L1 and
    edge weight of the config, feature matching, VGG (with weights only) and ``extra`` terms."""
    from geo_pix2pix.training.step import LossWeights

    return LossWeights(gan_loss=cfg.gan_loss, l1=cfg.lambda_l1, edge=cfg.edge_weight, feat=opts.lambda_feat,
                       vgg=opts.lambda_vgg if opts.vgg_weights else 0.0, **extra)


def vgg_perceptual(opts: MultiScaleOptions, plan: Any) -> Any:
    """The frozen VGG19 perceptual loss on the plan's device, when weights are given and weighed."""
    if not opts.vgg_weights or opts.lambda_vgg <= 0:
        return None
    from geo_pix2pix.models.vgg import VGGLoss, load_vgg19_features

    return VGGLoss(load_vgg19_features(opts.vgg_weights)).to(plan.device)
