"""The Pix2PixHD family (Wang et al., CVPR 2018): a coarse-to-fine generator (a global generator
and local enhancers, :mod:`geo_pix2pix.models.hd_generator`), ``num_d`` PatchGANs at successive 2x
downsamplings, LSGAN, the discriminator feature-matching loss and, with a local VGG19 weights file,
the perceptual loss. For GIS it is the model for large tiles (512-1024 px), where a road network or
a coastline needs more context than a 256 tile gives.

Coarse-to-fine training, two ways:

- ``--fix-global-steps N`` (the paper's fixed-global phase): for the first N steps only the local
  enhancers train; the global generator's parameters get no gradient, so Adam leaves them
  bit-identical; then everything trains together.
- ``--from-run GLOBAL_RUN``: start the global generator from the model file of a global-only run
  (``--n-local-enhancers 0``, trained with ``--ngf`` twice this run's); its image head is dropped.
  The paper trains that global run on images downsampled 2x; geopix trains it on the same rasters
  at their own resolution, so the copied weights are a starting point, not the paper's exact
  initialisation. Combine with ``--fix-global-steps`` to let the enhancer catch up first.

The paper's defaults (``--recipe paper``, the GPU default) are its 1024-pixel configuration scaled
to 512-pixel tiles; the CPU recipe is a much smaller network (see ``recipes`` and bench/README.md).
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
    from torch import nn

    from geo_pix2pix.training.config import TrainConfig

__all__ = ["Pix2PixHDOptions", "HDGeneratorConfig", "Pix2PixHD", "FAMILY"]


@dataclass(frozen=True)
class Pix2PixHDOptions(MultiScaleOptions):
    """Pix2PixHD's own training options (``geopix train --family pix2pixhd``), after the shared
    multi-scale ones (``--num-d``, ``--lambda-feat``, ``--vgg-weights``, ``--lambda-vgg``)."""

    n_downsample: int = option(4, "pix2pixhd: stride-2 downsamplings of the global generator.", min=1, max=6)
    n_blocks: int = option(9, "pix2pixhd: residual blocks of the global generator.", min=0)
    n_local_enhancers: int = option(1, "pix2pixhd: local enhancers (0: the global generator alone).", min=0, max=3)
    n_blocks_local: int = option(3, "pix2pixhd: residual blocks of each local enhancer.", min=0)
    fix_global_steps: int = option(0, "pix2pixhd: train only the local enhancers for the first N steps "
                                   "(the paper's fixed-global phase).", min=0)
    from_run: str | None = option(None, "pix2pixhd: start the global generator from this global-only run "
                                  "(--n-local-enhancers 0, --ngf twice this run's).", kind="path")


@dataclass(frozen=True)
class HDGeneratorConfig(RecordedConfig):
    """Architecture of a Pix2PixHD generator, as the model file records it."""

    name: str = "pix2pixhd"
    in_channels: int = 3
    out_channels: int = 3
    ngf: int = 32
    n_downsample: int = 4
    n_blocks: int = 9
    n_local_enhancers: int = 1
    n_blocks_local: int = 3
    norm: str = "instance"

    @property
    def multiple(self) -> int:
        """Tile sides must be multiples of this (the generator's total downsampling)."""
        return int(2 ** (self.n_downsample + self.n_local_enhancers))


#: The paper's configuration (its 1024-pixel setting: ngf 32 in the local enhancer, 64 in the
#: global generator, instance norm, LSGAN, feature matching 10, no L1) on 512-pixel tiles.
PAPER: Mapping[str, Any] = MappingProxyType({
    "tile": 512, "batch_size": 1, "ngf": 32, "ndf": 64, "norm": "instance", "d_norm": "instance",
    "gan_loss": "lsgan", "lambda_l1": 0.0, "lr": 2e-4, "d_layers": 3})

#: A CPU recipe: the same architecture shrunk for 2 CPU cores: 128-pixel tiles (the generator
#: needs multiples of 16) in batches of 4, ngf 16 (global 32), three downsamplings and three
#: residual blocks in the global generator, one in the enhancer, two discriminators of ndf 32;
#: Pix2Pix's CPU lessons kept (lr 1e-3, L1 400 with edge weight 4, batch norm), since at a CPU
#: budget the L1 is what draws the map. In the same CPU time it sees fewer pixels and draws
#: fainter roads than the Pix2Pix recipe (bench/README.md), so on a CPU Pix2Pix stays the
#: default family.
CPU: Mapping[str, Any] = MappingProxyType({
    "tile": 128, "batch_size": 4, "ngf": 16, "ndf": 32, "norm": "batch", "d_norm": "batch", "gan_loss": "lsgan",
    "lambda_l1": 400.0, "edge_weight": 4.0, "lr": 1e-3, "n_downsample": 3, "n_blocks": 3, "n_blocks_local": 1})


class Pix2PixHD(MultiScaleFamily):
    name: ClassVar[str] = "pix2pixhd"
    summary: ClassVar[str] = "coarse-to-fine generator, multi-scale PatchGANs, feature matching (+ VGG)"
    options: ClassVar[type | None] = Pix2PixHDOptions
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({"paper": PAPER, "cpu": CPU})

    def check_family(self, cfg: TrainConfig, opts: Pix2PixHDOptions) -> None:
        if cfg.generator != "unet" or unet_shape_given(cfg):
            raise GeopixError("--generator, --unet-depth and --upsample are pix2pix options; pix2pixhd builds its own "
                              "coarse-to-fine generator (--n-downsample, --n-blocks, --n-local-enhancers)")
        if cfg.palette_head:
            raise GeopixError("--palette-head is a pix2pix option; train pix2pixhd on the map's colours")
        multiple = self.generator_for(cfg, opts).multiple
        if cfg.tile % multiple:
            raise TileSizeError(_tile_message(cfg.tile, multiple, opts))
        if opts.fix_global_steps and not opts.n_local_enhancers:
            raise GeopixError("--fix-global-steps trains the local enhancers alone: it needs --n-local-enhancers >= 1")

    def check(self, cfg: TrainConfig, opts: Pix2PixHDOptions) -> None:
        super().check(cfg, opts)
        if opts.from_run:
            self._global_run(cfg, opts, opts.from_run)

    def _global_run(self, cfg: TrainConfig, opts: Pix2PixHDOptions, run: str) -> Any:
        """The model file of ``--from-run``, checked to be a global-only Pix2PixHD generator."""
        from geo_pix2pix.files.modelfile import read_meta

        if not opts.n_local_enhancers:
            raise GeopixError("--from-run starts the global generator under local enhancers: it needs "
                              "--n-local-enhancers >= 1")
        meta = read_meta(run)
        if meta.family != self.name or meta.generator.n_local_enhancers != 0:
            raise GeopixError(f"--from-run {opts.from_run} is not a global-only pix2pixhd run "
                              "(train one with --family pix2pixhd --n-local-enhancers 0)")
        return meta

    def generator_for(self, cfg: TrainConfig, opts: Pix2PixHDOptions, in_channels: int = 3,
                      out_channels: int = 3) -> HDGeneratorConfig:
        return HDGeneratorConfig(in_channels=in_channels, out_channels=out_channels, ngf=cfg.ngf,
                                 n_downsample=opts.n_downsample, n_blocks=opts.n_blocks,
                                 n_local_enhancers=opts.n_local_enhancers, n_blocks_local=opts.n_blocks_local,
                                 norm=cfg.norm)

    def generator_config(self, d: Mapping[str, Any]) -> HDGeneratorConfig:
        return HDGeneratorConfig.from_dict(d)

    def build_generator(self, gcfg: HDGeneratorConfig, init: bool = True) -> nn.Module:
        from geo_pix2pix.models.hd_generator import HDGenerator
        from geo_pix2pix.models.unet import init_weights

        G = HDGenerator(gcfg.in_channels, gcfg.out_channels, gcfg.ngf, gcfg.n_downsample, gcfg.n_blocks,
                        gcfg.n_local_enhancers, gcfg.n_blocks_local, gcfg.norm)
        if init:
            init_weights(G)
        return G

    def initialise(self, G: nn.Module, cfg: TrainConfig, opts: Pix2PixHDOptions) -> None:
        if not opts.from_run:  # check() has made sure it is a global-only pix2pixhd run
            return
        from safetensors.torch import load_file

        from geo_pix2pix.files.modelfile import resolve_model_path

        G.load_global(load_file(str(resolve_model_path(opts.from_run))))  # type: ignore[operator]

    def frozen_parameters(self, G: nn.Module, opts: Pix2PixHDOptions, step: int) -> list[Any]:
        if step < opts.fix_global_steps:
            return list(G.global_parameters())  # type: ignore[operator]
        return []


def _tile_message(tile: int, multiple: int, opts: Pix2PixHDOptions) -> str:
    ok = [k * multiple for k in range(max(1, tile // multiple - 1), tile // multiple + 3)][:4]
    return (f"the pix2pixhd generator ({opts.n_downsample} downsamplings, {opts.n_local_enhancers} local "
            f"enhancer(s)) takes tiles in multiples of {multiple} pixels; --tile-size {tile} is not one "
            f"(e.g. {', '.join(map(str, ok))})")


FAMILY = Pix2PixHD()
