"""The interface of a model family (:class:`Family`) and the lookup of families by name.

The training loop, the GAN step, model files, translate and evaluate talk to a family only through
this class, so a new family is a module with a :class:`Family` subclass plus a line in
:data:`~geo_pix2pix.families.registry.FAMILIES` (``docs/contributing/families.md``).

What a family adds to the GAN step (:mod:`geo_pix2pix.training.objective`) is declared here too: how G
draws a batch (:meth:`Family.draw`: SPADE's style noise, inpainting's holes) and its own generator
loss terms (:meth:`Family.generator_terms`), which the step adds after the adversarial term and the
L1 that every family shares. The class cross-entropy of a class or palette output head is not a
family's: any translation family can end in such a head (:mod:`geo_pix2pix.training.output_head`).

Family modules import torch only inside their methods: reading their options (for ``--help``)
stays instant.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from geo_pix2pix.families.registry import FAMILIES
from geo_pix2pix.tiles.errors import GeopixError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from geo_pix2pix.models.registry import DiscriminatorConfig
    from geo_pix2pix.runtime.device import DevicePlan
    from geo_pix2pix.tiles.encoding.classes import ClassTable
    from geo_pix2pix.tiles.encoding.normalize import BandStats
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.data import TrainingData
    from geo_pix2pix.training.objective import Batch, Draw, LossTerm

__all__ = ["Family", "RecordedConfig", "get_family", "iter_families"]

C = TypeVar("C", bound="RecordedConfig")


class RecordedConfig:
    """JSON round trip of a family's frozen generator config (a dataclass), as the model file
    records it; keys a newer geopix wrote that this one does not know are ignored."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[C], d: Mapping[str, Any]) -> C:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})


class Family:
    """What a model family provides (subclass it; one instance per family).

    Class attributes:
        name: the ``--family`` value.
        summary: one line for ``--help``.
        options: frozen dataclass of the family's own options (``None``: none), its fields declared
            with :func:`~geo_pix2pix.training.option_fields.option` (``geopix train`` shows them).
        recipes: ``paper`` and ``cpu`` sets of defaults (TrainConfig fields or the family's options).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[type | None] = None
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]]

    # -- options and checks ----------------------------------------------------------------
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

    def check_sides(self, in_stats: BandStats | ClassTable, out_stats: BandStats | ClassTable) -> None:
        """Refuse input/output encodings the family cannot use (e.g. a layout that is not classes)."""

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

    def initialise(self, G: nn.Module, cfg: TrainConfig, opts: Any) -> None:
        """Starting weights from elsewhere (e.g. a coarse run), after the paper's initialisation."""

    # -- training ------------------------------------------------------------------------
    def frozen_parameters(self, G: nn.Module, opts: Any, step: int) -> list[Any]:
        """Generator parameters that must not train at ``step`` (e.g. a fixed-global phase)."""
        return []

    def d_lr_factor(self, opts: Any) -> float:
        """The discriminator's learning rate as a multiple of the generator's (TTUR)."""
        return 1.0

    def batches(self, cfg: TrainConfig, opts: Any, data: TrainingData, a: str, b: str) -> Callable[..., Batch]:
        """What makes a step's batch from the loader's windows: ``make(windows, step, rank, world)``
        (a pure function of its arguments and the seed, so a resume is exact); ``a``/``b``: which of
        the windows' rasters G reads and draws. The translation families' is the pair itself."""
        from geo_pix2pix.training.objective import Batch

        def make(d: Mapping[str, Any], step: int, rank: int = 0, world: int = 1) -> Batch:
            return Batch(d[a], d[b], d["valid"])

        return make

    def draw(self, G: nn.Module, opts: Any) -> Draw:
        """How G draws a training batch in the GAN step: what it reads (e.g. style noise) and what
        its output becomes (e.g. holes filled into the window). ``G`` is the module the model file
        holds, for parts the draw calls itself (a style encoder). The default is the paper's,
        ``fake_B = G(real_A)``."""
        from geo_pix2pix.training.objective import draw_plain

        return draw_plain

    def generator_terms(self, cfg: TrainConfig, opts: Any, plan: DevicePlan,
                        out_stats: BandStats | ClassTable) -> tuple[LossTerm, ...]:
        """The family's own terms of G's loss, in the order the step adds them after the
        adversarial term and the L1 (built once a run, after the networks: a term may hold a frozen
        network of its own). A term whose weight is 0 is left out."""
        return ()


def get_family(name: str) -> Family:
    """The registered family ``name``; a clear error names the others."""
    if name not in FAMILIES:
        raise GeopixError(f"unknown model family {name!r}; choose {', '.join(FAMILIES)}")
    module, attr = FAMILIES[name].split(":")
    family = getattr(importlib.import_module(module), attr)
    if not isinstance(family, Family):
        raise TypeError(f"{FAMILIES[name]} is not a Family instance")
    return family


def iter_families() -> Iterator[Family]:
    """Every registered family, in the registry's order."""
    for name in FAMILIES:
        yield get_family(name)
