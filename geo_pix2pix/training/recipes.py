"""Recipes: a family's named sets of defaults, and what a run shows of the one it starts from.

``paper`` is a family's paper configuration (the GPU default) and ``cpu`` what trains best on a CPU
in a fixed time (:attr:`~geo_pix2pix.families.base.Family.recipes`). ``geopix train --recipe`` and
:func:`apply_recipe` start a config from one, keeping every option the user gave, and announce the
values it took that the run trains with (:func:`values_in_use`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from geo_pix2pix.families.base import get_family
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.config import TrainConfig

__all__ = ["apply_recipe", "values_in_use", "L1_OPTIONS"]

#: Options that only weigh the L1 to the target (a run that trains no L1 has no use for them).
L1_OPTIONS = ("lambda_l1", "edge_weight")
#: The augmentation options that act on the imagery only where it is the generator's input.
PHOTOMETRIC_OPTIONS = frozenset({"colour_jitter", "blur_noise"})


def apply_recipe(cfg: TrainConfig, recipe: str, given: frozenset[str] | set[str] = frozenset()
                 ) -> tuple[TrainConfig, dict[str, Any]]:
    """Start ``cfg`` from the family's ``recipe`` defaults, keeping every option in ``given``.

    ``recipe`` is ``paper`` or ``cpu`` (``auto`` must be resolved by the caller, which knows the
    device). The recipe's values apply to TrainConfig fields and to the family's own options alike.
    Returns the new config and the values it took from the recipe (for the user to see).
    """
    family = get_family(cfg.family)
    if recipe not in family.recipes:
        raise ValueError(f"unknown recipe {recipe!r}; choose {', '.join(family.recipes)}")
    own = {f.name for f in fields(TrainConfig)}
    taken = {k: v for k, v in family.recipes[recipe].items() if k not in given}
    top = {k: v for k, v in taken.items() if k in own}
    fam = {**cfg.family_options, **{k: v for k, v in taken.items() if k not in own}}
    return cfg.with_(recipe=recipe, family_options=fam, **top), taken


def values_in_use(cfg: TrainConfig, taken: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``taken`` from a recipe that the run of ``cfg`` trains with, for the recipe line:
    a categorical map drawn as the output learns its classes by cross-entropy, without an L1
    (:mod:`~geo_pix2pix.training.output_head`), so the L1's weights are left out; imagery that is
    the target (map2sat) is never jittered (:mod:`~geo_pix2pix.training.augment`), so the
    photometric options are left out there."""
    unused = set(L1_OPTIONS) if _categorical_output(cfg) else set()
    if cfg.task == "translate" and cfg.direction == "map2sat":
        unused |= PHOTOMETRIC_OPTIONS
    return {k: v for k, v in taken.items() if k not in unused}


def _categorical_output(cfg: TrainConfig) -> bool:
    """Whether the run draws a categorical map; an inferred map kind is read from the first map as
    training will (quietly: training announces it). A map that cannot be read counts as not
    categorical here; training refuses it with its own error, after the checks that come first."""
    if cfg.task != "translate" or cfg.direction != "sat2map" or not cfg.pairs:
        return False
    if cfg.classes_from_palette or cfg.map_kind != "auto":
        return bool(cfg.classes_from_palette) or cfg.map_kind == "categorical"
    from geo_pix2pix.training.data import resolve_map_kind

    try:
        return resolve_map_kind(cfg, announce=False) == "categorical"
    except GeopixError:
        return False
