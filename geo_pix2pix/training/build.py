"""Building a training run's model side from its config and data: which raster is the input,
the family's networks, their optimisers, the objective of the GAN step and what the model file
records.

Everything here is decided before the run directory is touched, so a config the family refuses
(a missing VGG weights file, a palette head on a family that has none) leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from geo_pix2pix._version import __version__
from geo_pix2pix.evaluation.palette import Palette, load_palette
from geo_pix2pix.families.base import Family, get_family
from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.models.class_head import with_output_head
from geo_pix2pix.runtime.device import DevicePlan
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.pairs.dataset import PairWindowDataset
from geo_pix2pix.training.balance import categorical_balance, palette_balance, palette_centers, require_rgb
from geo_pix2pix.training.config import DIRECTIONS, TrainConfig
from geo_pix2pix.training.data import TrainingData, pair_meta
from geo_pix2pix.training.objective import LossTerm, Networks, Objective
from geo_pix2pix.training.output_head import head_of, head_terms, shared_weights
from geo_pix2pix.training.step import Optimisers, make_optimisers, place
from geo_pix2pix.training.warm_start import warm_start

__all__ = ["Sides", "ModelSetup", "check_config", "build_model", "build_objective"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sides:
    """Which raster the generator reads (``a``) and which it draws (``b``), with their bands and
    normalisation: imagery -> map for ``sat2map``, map -> imagery for ``map2sat``."""

    a: str
    b: str
    in_bands: tuple[int, ...]
    out_bands: tuple[int, ...]
    in_stats: BandStats | ClassTable
    out_stats: BandStats | ClassTable

    @classmethod
    def of(cls, cfg: TrainConfig, data: TrainingData) -> Sides:
        spec = data.pairs[0].spec
        img_bands, map_bands = tuple(spec.imagery_bands or ()), tuple(spec.map_bands or ())
        if cfg.task == "inpaint":  # the imagery is its own target
            return cls("imagery", "imagery", img_bands, img_bands, data.imagery_stats, data.imagery_stats)
        if cfg.direction == "sat2map":
            return cls("imagery", "maps", img_bands, map_bands, data.imagery_stats, data.map_stats)
        return cls("maps", "imagery", map_bands, img_bands, data.map_stats, data.imagery_stats)


@dataclass
class ModelSetup:
    """A run's networks and what describes them. ``G``/``D`` are the modules checkpoints and
    model files hold; ``nets`` may wrap them (``torch.compile``). ``terms``: the family's own
    generator loss terms (:meth:`~geo_pix2pix.families.base.Family.generator_terms`)."""

    family: Family
    options: Any
    gcfg: Any
    dcfg: Any
    G: nn.Module
    D: nn.Module
    nets: Networks
    opts: Optimisers
    terms: tuple[LossTerm, ...]
    head_palette: Palette | None

    def meta(self, cfg: TrainConfig, data: TrainingData, sides: Sides, step: int) -> ModelMeta:
        """What the model file records at ``step``."""
        extra: dict[str, Any] = {
            "discriminator": self.dcfg.to_dict(), "gan_loss": cfg.gan_loss, "lambda_l1": cfg.lambda_l1,
            "split": {"val_fraction": cfg.val_fraction, "seed": cfg.seed, "val_aoi": cfg.val_aoi,
                      "min_valid": cfg.min_valid, "val_pairs": cfg.val_pairs}}
        if cfg.family_options:
            extra["family_options"] = dict(cfg.family_options)
        if cfg.init_from:
            extra["init_from"] = cfg.init_from
        extra["map_kind"] = data.map_kind if cfg.task == "translate" else "imagery"
        if cfg.task != "translate":
            extra["task"] = cfg.task
        if self.head_palette is not None:
            extra["palette"] = {"name": self.head_palette.name, "classes": list(self.head_palette.classes)}
        return ModelMeta(generator=self.gcfg, family=self.family.name, direction=cfg.direction,
                         input_bands=sides.in_bands, output_bands=sides.out_bands, input_stats=sides.in_stats,
                         output_stats=sides.out_stats, tile_size=cfg.tile, step=step,
                         pairs=tuple(pair_meta(p) for p in data.pairs), geopix_version=__version__, extra=extra)


def check_config(cfg: TrainConfig) -> tuple[Family, Any]:
    """Refuse a config that cannot train (one-line errors), before any data is read."""
    if cfg.direction not in DIRECTIONS:
        raise GeopixError(f"unknown direction {cfg.direction!r}; use sat2map or map2sat")
    family = get_family(cfg.family)
    if cfg.task == "inpaint" and family.name != "inpaint":
        raise GeopixError(f"--task inpaint trains the inpaint family, not {family.name}: drop --family")
    try:
        opts = family.parse_options(cfg.family_options)
    except TypeError as exc:
        raise GeopixError(f"bad {family.name} options: {exc}") from None
    if cfg.palette_head and cfg.direction != "sat2map":
        raise GeopixError("--palette-head paints maps: it needs --direction sat2map")
    family.check(cfg, opts)
    return family, opts


def check_discriminator_fits(tile: int, dcfg: Any) -> None:
    """Refuse a tile too small for the discriminator's coarsest scale.

    A PatchGAN's ``n`` stride-2 4x4 convs (padding 1) take a side ``s`` to ``s / 2**n``; its two
    stride-1 4x4 convs then take away one pixel each, so at least one logit needs ``s >= 3 * 2**n``.
    Scale ``k`` of a multi-scale discriminator sees the tile halved ``k`` times.
    """
    coarsest = tile // 2 ** (dcfg.num_d - 1)
    need = 3 * 2 ** dcfg.n_layers
    if coarsest < need:
        raise GeopixError(f"tile {tile} is too small for the discriminator: its coarsest of {dcfg.num_d} scale(s) "
                          f"sees {coarsest} px and a {dcfg.n_layers}-layer PatchGAN needs {need}; use a larger "
                          "--tile-size, fewer --d-layers" + (" or fewer --num-d" if dcfg.num_d > 1 else ""))


def build_model(cfg: TrainConfig, family: Family, opts: Any, sides: Sides, plan: DevicePlan,
                fresh: bool = True) -> ModelSetup:
    """The family's G and D (seeded by ``cfg.seed``), placed for ``plan``, with Adam and the
    family's generator terms; a palette head where the config asks for one. A ``fresh`` run (not
    a resume, which reads its checkpoint) starts G from ``--init-from``'s generator if given."""
    categorical_out = isinstance(sides.out_stats, ClassTable)
    if categorical_out and (cfg.palette_head or cfg.balance_palette):
        raise GeopixError("--palette-head and --balance-palette are for rendered (RGB) maps; this map is "
                          "categorical and is learnt as classes already")
    if cfg.balance_palette:
        require_rgb(sides.out_stats.bands)
    head_palette = load_palette(cfg.palette_head) if cfg.palette_head else None
    head: dict[str, Any] = {}
    if head_palette is not None:
        if not isinstance(sides.out_stats, BandStats):  # pragma: no cover - a categorical map is refused above
            raise GeopixError("--palette-head is for rendered (RGB) maps")
        head = {"palette": tuple(map(tuple, palette_centers(head_palette, sides.out_stats).tolist())),
                "palette_classes": tuple(int(c) for c in head_palette.color_class)}
    family.check_sides(sides.in_stats, sides.out_stats)
    torch.manual_seed(cfg.seed)
    # channels: a band of class codes is read and predicted as one channel per class
    gcfg, dcfg = family.configure(cfg, opts, sides.in_stats.bands, sides.out_stats.bands, head)
    check_discriminator_fits(cfg.tile, dcfg)
    G = place(with_output_head(family.build_generator(gcfg), sides.out_stats), plan)
    D = place(family.build_discriminator(dcfg), plan)
    family.initialise(G, cfg, opts)
    if cfg.init_from and fresh:
        with torch.random.fork_rng(devices=[]):  # building the source draws nothing from the run's stream
            warm_start(G, cfg.init_from)
    opts_ = make_optimisers(G, D, plan, cfg.lr, (cfg.beta1, cfg.beta2), family.d_lr_factor(opts))
    # after G, D and Adam: a term may build a network of its own (VGG), which draws from the seeded RNG
    terms = family.generator_terms(cfg, opts, plan, sides.out_stats)
    nets = Networks(G, D, head_of(G))
    if cfg.compile:
        # torch.compile of a Module returns a Module (OptimizedModule); its stubs say a callable
        nets = dataclasses.replace(nets, G=cast(nn.Module, torch.compile(G)), D=cast(nn.Module, torch.compile(D)))
    return ModelSetup(family, opts, gcfg, dcfg, G, D, nets, opts_, terms, head_palette)


def build_objective(cfg: TrainConfig, model: ModelSetup, sides: Sides, train_ds: PairWindowDataset,
                    data: TrainingData) -> tuple[Objective, dict[str, dict[str, float]] | None]:
    """What the run's GAN step trains on: the shared adversarial and L1 weights, the family's draw
    and terms, then the output head's cross-entropy; with the class balance asked for
    (``--balance-palette`` weighs a rendered map's L1 by colour class, ``--balance-classes`` a
    categorical map's cross-entropy). Returns it and the record of ``class_balance.json``."""
    b, pixel_weight, class_weights, record = sides.b, None, None, None
    if cfg.balance_palette:
        if not isinstance(sides.out_stats, BandStats):  # pragma: no cover - build_model refuses a categorical map
            raise GeopixError("--balance-palette is for rendered (RGB) maps")
        balance = palette_balance(load_palette(cfg.balance_palette), train_ds, b, sides.out_stats, cfg.balance_power)
        pixel_weight, record = balance.pixel_weights, balance.to_dict()
    if cfg.balance_classes:
        if not isinstance(sides.out_stats, ClassTable) or b != "maps":
            raise GeopixError("--balance-classes weighs the classes of a categorical map (sat2map); this map is "
                              f"{data.map_kind} (--balance-palette weighs a rendered map's colours)")
        class_weights, record = categorical_balance(sides.out_stats, train_ds, b, cfg.balance_power)
    terms = model.terms + head_terms(head_of(model.G), cfg.class_weight, class_weights)
    objective = Objective(shared_weights(cfg, sides.out_stats, pixel_weight), model.family.draw(model.G, model.options),
                          terms)
    if not objective.term_names():
        raise GeopixError("nothing trains the generator: every loss weight is 0 (give --lambda-gan or --lambda-l1)")
    return objective, record
