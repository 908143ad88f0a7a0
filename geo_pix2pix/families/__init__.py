"""Model families: Pix2Pix and its relatives, each one module plus an entry in :data:`FAMILIES`.

A family owns what differs between members of the Pix2Pix family: its generator (and that
generator's frozen config, which the model file records), its discriminator(s), its own training
options (a frozen dataclass of :func:`~geo_pix2pix.training.option_fields.option` fields, which ``geopix train``
turns into command-line options), its recipes (named sets of defaults) and the loss terms it trains
with. The training loop, the GAN step, model files, translate and evaluate only talk to this
interface, so a new family is a new module and a line in :data:`FAMILIES`.

Family modules import torch only inside their methods: reading their options (for ``--help``)
stays instant.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from geo_pix2pix.tiles.errors import GeopixError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from geo_pix2pix.models.registry import DiscriminatorConfig
    from geo_pix2pix.runtime.device import DevicePlan
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.data import TrainingData
    from geo_pix2pix.training.step import Batch, LossWeights

__all__ = ["FAMILIES", "Family", "get_family", "family_names", "iter_families"]

#: family name -> ``module:attribute`` of its :class:`Family` instance (imported on first use).
FAMILIES: Mapping[str, str] = {
    "pix2pix": "geo_pix2pix.families.pix2pix:FAMILY",
    "pix2pixhd": "geo_pix2pix.families.pix2pixhd:FAMILY",
    "spade": "geo_pix2pix.families.spade:FAMILY",
    "inpaint": "geo_pix2pix.families.inpaint:FAMILY",
}


class Family:
    """What a model family provides (subclass it; one instance per family).

    Class attributes:
        name: the ``--family`` value.
        summary: one line for ``--help``.
        options: frozen dataclass of the family's own options (``None``: none).
        recipes: ``paper`` and ``cpu`` sets of defaults (TrainConfig fields or the family's options).
        loss_terms: names of the generator loss terms it trains with (``metrics.csv`` columns).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[type | None] = None
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]]
    loss_terms: ClassVar[tuple[str, ...]] = ("G_GAN", "G_L1")

    # -- options -------------------------------------------------------------------------
    def parse_options(self, values: Mapping[str, Any]) -> Any:
        """The family's options dataclass from ``TrainConfig.family_options`` (unknown keys refused)."""
        if self.options is None:
            if values:
                raise GeopixError(f"the {self.name} family has no option {', '.join(sorted(values))}")
            return None
        known = {f.name for f in dataclasses.fields(self.options)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GeopixError(f"the {self.name} family has no option(s) {', '.join(unknown)}")
        return self.options(**values)

    def check(self, cfg: TrainConfig, opts: Any) -> None:
        """Refuse what this family cannot train, before anything is written (one-line errors)."""

    # -- networks ------------------------------------------------------------------------
    def configure(self, cfg: TrainConfig, opts: Any, in_channels: int, out_channels: int,
                  head: Mapping[str, Any]) -> tuple[Any, DiscriminatorConfig]:
        """The generator's config (recorded in the model file) and the discriminator's."""
        raise NotImplementedError

    def generator_config(self, d: Mapping[str, Any]) -> Any:
        """The generator config recorded in a model file, rebuilt from its JSON."""
        raise NotImplementedError

    def build_generator(self, gcfg: Any, init: bool = True) -> nn.Module:
        """The generator of ``gcfg``; ``init``: the paper's weight initialisation (False when
        weights are loaded next)."""
        raise NotImplementedError

    def build_discriminator(self, dcfg: DiscriminatorConfig) -> nn.Module:
        """The (multi-scale) discriminator; returns per scale its layer outputs ending with logits."""
        from geo_pix2pix.models.registry import build_discriminator

        return build_discriminator(dcfg)

    def loss_weights(self, cfg: TrainConfig, opts: Any) -> LossWeights:
        """The loss weights of the GAN step (class balance is added by the training loop)."""
        from geo_pix2pix.training.step import LossWeights

        return LossWeights(gan_loss=cfg.gan_loss, l1=cfg.lambda_l1, edge=cfg.edge_weight, classes=cfg.class_weight)

    def perceptual(self, cfg: TrainConfig, opts: Any, plan: DevicePlan) -> nn.Module | None:
        """The frozen perceptual-loss network, if the family trains with one."""
        return None

    def initialise(self, G: nn.Module, cfg: TrainConfig, opts: Any) -> None:
        """Starting weights from elsewhere (e.g. a coarse run), after the paper's initialisation."""

    def frozen_parameters(self, G: nn.Module, opts: Any, step: int) -> list[Any]:
        """Generator parameters that must not train at ``step`` (e.g. a fixed-global phase)."""
        return []

    def check_sides(self, in_stats: Any, out_stats: Any) -> None:
        """Refuse input/output encodings the family cannot use (e.g. a layout that is not classes)."""

    def style_encoder(self, G: nn.Module) -> nn.Module | None:
        """The generator's style encoder (trained through a KL term), if it has one."""
        return None

    def batches(self, cfg: TrainConfig, opts: Any, data: TrainingData, a: str, b: str) -> Callable[..., Batch]:
        """What makes a step's batch from the loader's windows: ``make(windows, step, rank, world)``
        (a pure function of its arguments and the seed, so a resume is exact); ``a``/``b``: which of
        the windows' rasters G reads and draws. The translation families' is the pair itself."""
        from geo_pix2pix.training.step import Batch

        def make(d: Mapping[str, Any], step: int, rank: int = 0, world: int = 1) -> Batch:
            return Batch(d[a], d[b], d["valid"])

        return make

    def d_lr_factor(self, opts: Any) -> float:
        """The discriminator's learning rate as a multiple of the generator's (TTUR)."""
        return 1.0


def get_family(name: str) -> Family:
    """The registered family ``name``; a clear error names the others."""
    if name not in FAMILIES:
        raise GeopixError(f"unknown model family {name!r}; choose {', '.join(FAMILIES)}")
    module, attr = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def family_names() -> list[str]:
    return list(FAMILIES)


def iter_families() -> Iterator[Family]:
    for name in FAMILIES:
        yield get_family(name)
