"""A tiny model family, for the tests: a new family is a module like this one plus a registry line.

Its generator is two 3x3 convolutions (any tile size), its discriminator the shared PatchGAN, and
its loss the shared adversarial and L1 terms plus one term of its own: ``G_TV``, the total
variation of the drawn image, weighted by the family's own option ``lambda_tv``. Nothing outside
this module knows it; a test registers it with
``FAMILIES["tiny"] = "tests.geo_pix2pix.families.tiny_family:FAMILY"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from geo_pix2pix.families.base import Family, RecordedConfig
from geo_pix2pix.models.registry import DiscriminatorConfig
from geo_pix2pix.runtime.device import DevicePlan
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.config import TrainConfig
from geo_pix2pix.training.objective import GeneratorView, LossTerm
from geo_pix2pix.training.option_fields import option


@dataclass(frozen=True)
class TinyOptions:
    """The tiny family's own option (``geopix train`` would show it as ``--lambda-tv``)."""

    lambda_tv: float = option(0.1, "tiny: weight of the total-variation term.", min=0)


@dataclass(frozen=True)
class TinyGeneratorConfig(RecordedConfig):
    """Architecture of the tiny generator, as the model file records it."""

    name: str = "tiny"
    in_channels: int = 3
    out_channels: int = 3
    width: int = 8


class TinyGenerator(nn.Module):
    def __init__(self, cfg: TinyGeneratorConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(cfg.in_channels, cfg.width, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(cfg.width, cfg.out_channels, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def total_variation(g: GeneratorView) -> torch.Tensor:
    """``G_TV``: mean absolute difference of neighbouring pixels of the drawn image."""
    x = g.drawn.fake_B.float()
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class Tiny(Family):
    name: ClassVar[str] = "tiny"
    summary: ClassVar[str] = "two convolutions + PatchGAN, adversarial + L1 + total variation (a test family)"
    options: ClassVar[type | None] = TinyOptions
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({"paper": {}, "cpu": {"lambda_tv": 0.2}})

    def check(self, cfg: TrainConfig, opts: TinyOptions) -> None:
        if cfg.palette_head:
            raise GeopixError("--palette-head is a pix2pix option")

    def configure(self, cfg: TrainConfig, opts: TinyOptions, in_channels: int, out_channels: int,
                  head: Mapping[str, Any]) -> tuple[TinyGeneratorConfig, DiscriminatorConfig]:
        return (TinyGeneratorConfig(in_channels=in_channels, out_channels=out_channels, width=cfg.ngf),
                DiscriminatorConfig(in_channels=in_channels + out_channels, ndf=cfg.ndf, n_layers=cfg.d_layers,
                                    norm=cfg.d_norm))

    def generator_config(self, d: Mapping[str, Any]) -> TinyGeneratorConfig:
        return TinyGeneratorConfig.from_dict(d)

    def build_generator(self, gcfg: TinyGeneratorConfig, init: bool = True) -> nn.Module:
        return TinyGenerator(gcfg)

    def generator_terms(self, cfg: TrainConfig, opts: TinyOptions, plan: DevicePlan,
                        out_stats: Any) -> tuple[LossTerm, ...]:
        return (LossTerm("G_TV", opts.lambda_tv, total_variation),) if opts.lambda_tv > 0 else ()


FAMILY = Tiny()
