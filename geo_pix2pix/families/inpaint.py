"""PatchGAN inpainting (``geopix train --task inpaint``): filling clouds, stripes and gaps in imagery.

After Demir and Unal 2018 ("Patch-Based Image Inpainting with Generative Adversarial Networks",
arXiv 1803.07422): a generator fills the holes, a PatchGAN judges local texture and a global
discriminator the whole window. Self-supervised: the imagery is its own target. Every training
window gets holes (:mod:`geo_pix2pix.tiles.holes.draw`: free-form strokes, rectangles, Landsat 7
SLC-off stripes, the raster's own nodata shapes moved onto valid pixels), drawn from
``(seed, step)`` so a resume is exact.

* The generator is the Pix2Pix U-Net (``--generator unet`` or ``smp:<encoder>``) with one more
  input channel: it reads the window with every unknown pixel (the drawn holes and the raster's
  own nodata) pre-filled by a smooth push-pull interpolation (:mod:`~geo_pix2pix.models.prefill`),
  plus the mask of those pixels, and paints the whole window.
* Only the holes are painted: the window that the losses and the discriminators see is the image
  with G's pixels in its holes (what ``geopix inpaint`` writes), so valid pixels pass through
  untouched and G spends nothing on copying them.
* L1 (``--lambda-l1``) over the drawn holes' pixels that are really valid; the raster's own
  nodata is never a target (it is masked in every loss, as in translation training).
* Adversarial: a PatchGAN (70x70 patches, ``--num-d`` scales) and a global discriminator of the
  whole window (``--no-global-d`` to leave it out), both conditioned on the holed window and its
  mask; optional feature matching (``--lambda-feat``) and VGG perceptual loss (``--vgg-weights``,
  RGB imagery).

Recipes: ``paper`` is the Pix2Pix paper's optimisation on 256-pixel windows with both critics;
``cpu`` halves the networks and trains 8 windows of 128 pixels a step at lr 5e-4 (the Pix2Pix CPU
recipe's findings: smaller networks and more, cheaper steps), so holes up to ~60 pixels across
fit the window several times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np

from geo_pix2pix.families.multiscale import MultiScaleFamily, MultiScaleOptions
from geo_pix2pix.families.pix2pix import check_unet, pix2pix_generator
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.training.objective import Batch
from geo_pix2pix.training.option_fields import option

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from geo_pix2pix.models.registry import DiscriminatorConfig, GeneratorConfig
    from geo_pix2pix.training.config import TrainConfig
    from geo_pix2pix.training.data import TrainingData
    from geo_pix2pix.training.objective import Draw, Drawn, Networks

__all__ = ["InpaintOptions", "Inpaint", "HoleBatch", "HoleBatches", "FAMILY", "draw_holes", "holed_input",
           "paint_holes"]


@dataclass(frozen=True)
class InpaintOptions(MultiScaleOptions):
    """Inpainting's own options (``geopix train --task inpaint``), after the shared multi-scale ones."""

    global_d: bool = option(True, "inpaint: no global discriminator (only the PatchGAN judges the fill).",
                            flag="--no-global-d", kind="negated")
    hole_kinds: str = option("strokes,boxes,stripes,nodata", "inpaint: kinds of holes drawn into training windows "
                        "(comma-separated): strokes (free-form, cloud-like), boxes, stripes (Landsat 7 SLC-off), "
                        "nodata (the rasters' own nodata shapes, moved).")
    max_hole_fraction: float = option(0.5, "inpaint: largest share of a training window in holes.", min=0.02, max=0.9)


PAPER: Mapping[str, Any] = MappingProxyType({
    "tile": 256, "batch_size": 1, "ngf": 64, "ndf": 64, "lambda_l1": 100.0, "lr": 2e-4, "num_d": 1,
    "lambda_feat": 0.0})
CPU: Mapping[str, Any] = MappingProxyType({
    "tile": 128, "batch_size": 8, "ngf": 32, "ndf": 32, "lambda_l1": 100.0, "lr": 5e-4, "num_d": 1,
    "lambda_feat": 0.0})


@dataclass(frozen=True)
class HoleBatch(Batch):
    """An inpainting batch: G reads the window with its unknown pixels (``hole``, ``(N, 1, T, T)``
    bool: the drawn holes and the raster's own nodata) zeroed plus their mask, and paints only
    those: the rest of its output is the window itself."""

    hole: torch.Tensor

    def judged(self, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The window with G's pixels in its holes, scored inside the holes."""
        return paint_holes(fake, self.real_B, self.hole), self.hole

    @property
    def shown(self) -> torch.Tensor:
        """The holed window, without its mask channel."""
        return self.real_A[:, :self.real_B.shape[1]]


def paint_holes(fake: torch.Tensor, real: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Inpainting's output: the real window with G's pixels in its holes only (what ``geopix
    inpaint`` writes, what the losses and the discriminators judge, what validation scores)."""
    import torch

    return torch.where(hole, fake, real.to(fake.dtype))


def draw_holes(nets: Networks, batch: Batch) -> Drawn:
    """Inpainting's draw: ``fake_B`` is the window with G's pixels in its holes, the L1 is taken over
    the holes' valid pixels, and the raster's own nodata is never a target nor part of a real
    example: there the real window shows G's pixels too, so no loss can read what it holds."""
    import torch

    from geo_pix2pix.training.objective import Drawn, generate

    if not isinstance(batch, HoleBatch):
        raise TypeError("the inpaint family draws HoleBatches (Inpaint.batches makes them)")
    fake_B = paint_holes(generate(nets, batch.real_A)[0], batch.real_B, batch.hole)
    real_B = torch.where(batch.valid, batch.real_B.to(fake_B.dtype), fake_B.detach())
    return Drawn(fake_B, real_B, batch.hole & batch.valid)


class HoleBatches:
    """Makes the step's batch from the loader's windows: holes drawn for ``(seed, step)``, the
    holed window and its mask as G's input, the window itself as the target.

    The holes of a step are drawn for all ``world x batch`` windows of the step and each rank takes
    its slice, so N ranks train on exactly the holes one process of N times the batch would."""

    def __init__(self, spec: Any, bank: list[np.ndarray], seed: int) -> None:
        self.spec, self.bank, self.seed = spec, bank, seed

    def __call__(self, d: Mapping[str, torch.Tensor], step: int, rank: int = 0, world: int = 1) -> HoleBatch:
        import torch

        from geo_pix2pix.tiles.holes.draw import draw_holes as draw_hole_masks

        image, valid = d["imagery"], d["valid"]
        n, size = image.shape[0], image.shape[-1]
        drawn = draw_hole_masks(np.random.default_rng([self.seed, step, 1]), n * world, size, self.spec, self.bank)
        hole = torch.from_numpy(drawn[rank * n:(rank + 1) * n, None]).to(image.device) | ~valid
        return HoleBatch(holed_input(image, hole), image, valid, hole)


def holed_input(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """G's input: the image with its unknown pixels set to 0 (the mean of the normalised range),
    and the mask of those pixels (1) as one more channel. ``(N, C, T, T)``, ``(N, 1, T, T)`` bool."""
    import torch

    return torch.cat([image.masked_fill(hole, 0.0), hole.to(image.dtype)], 1)


def _nodata_bank(data: TrainingData, size: int, max_fraction: float) -> list[np.ndarray]:
    """Real hole shapes: the invalid masks (:func:`~geo_pix2pix.tiles.holes.plan.band_validity`, the
    inference's rule) of the training rasters' windows of ``size`` (a grid of them, at most 4096 per
    raster), those partly invalid (:func:`~geo_pix2pix.tiles.holes.draw.nodata_shapes`)."""
    from rasterio.windows import Window

    from geo_pix2pix.tiles.holes.draw import nodata_shapes
    from geo_pix2pix.tiles.holes.plan import band_validity
    from geo_pix2pix.tiles.raster import open_raster, reading

    masks: list[np.ndarray] = []
    for p in data.pairs:
        bands = tuple(p.spec.imagery_bands or (1,))
        with open_raster(p.spec.imagery, "imagery") as src, reading(src.name, "imagery"):
            rows, cols = range(0, src.height - size + 1, size), range(0, src.width - size + 1, size)
            step = max(1, len(rows) * len(cols) // 4096)
            for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
                if i % step == 0:
                    # unknown as geopix inpaint sees it: missing in any band
                    masks.append(cast(np.ndarray, ~band_validity(src, bands, Window(c, r, size, size)).all(axis=0)))
    return nodata_shapes(masks, max_fraction)


class Inpaint(MultiScaleFamily):
    name: ClassVar[str] = "inpaint"
    summary: ClassVar[str] = "PatchGAN inpainting: fill holes in imagery (--task inpaint)"
    options: ClassVar[type | None] = InpaintOptions
    recipes: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({"paper": PAPER, "cpu": CPU})

    def check_family(self, cfg: TrainConfig, opts: InpaintOptions) -> None:
        from geo_pix2pix.tiles.holes.draw import parse_kinds

        if cfg.task != "inpaint":
            raise GeopixError("the inpaint family fills holes in imagery: train it with --task inpaint")
        if cfg.direction != "sat2map" or cfg.palette_head or cfg.balance_palette or cfg.balance_classes:
            raise GeopixError("--direction, --palette-head and the class balance options are for translation; "
                              "inpainting learns the imagery itself")
        check_unet(cfg)
        try:
            parse_kinds(opts.hole_kinds)
        except ValueError as exc:
            raise GeopixError(f"--hole-kinds: {exc}") from None

    def generator_for(self, cfg: TrainConfig, opts: InpaintOptions, in_channels: int = 3,
                      out_channels: int = 3) -> GeneratorConfig:
        """The Pix2Pix U-Net reading the holed window plus its mask channel, without dropout."""
        return pix2pix_generator(cfg, in_channels + 1, out_channels, dropout=False)

    def discriminator_for(self, cfg: TrainConfig, opts: InpaintOptions, in_channels: int,
                          out_channels: int) -> DiscriminatorConfig:
        """The PatchGANs and, unless ``--no-global-d``, a global discriminator of the whole window,
        both conditioned on the holed window and its mask."""
        from geo_pix2pix.models.registry import DiscriminatorConfig

        return DiscriminatorConfig(in_channels=2 * in_channels + 1, ndf=cfg.ndf, n_layers=cfg.d_layers,
                                   norm=cfg.d_norm, num_d=opts.num_d, global_tile=cfg.tile if opts.global_d else 0)

    def generator_config(self, d: Mapping[str, Any]) -> GeneratorConfig:
        from geo_pix2pix.models.registry import GeneratorConfig

        return GeneratorConfig.from_dict(dict(d))

    def build_generator(self, gcfg: Any, init: bool = True) -> nn.Module:
        from geo_pix2pix.models.prefill import PrefilledGenerator
        from geo_pix2pix.models.registry import build_generator

        return PrefilledGenerator(build_generator(gcfg, init=init))

    def batches(self, cfg: TrainConfig, opts: InpaintOptions, data: TrainingData, a: str, b: str
                ) -> Callable[..., HoleBatch]:
        from geo_pix2pix.tiles.holes.draw import HoleSpec, parse_kinds

        spec = HoleSpec(parse_kinds(opts.hole_kinds), opts.max_hole_fraction)
        bank = _nodata_bank(data, cfg.tile, opts.max_hole_fraction) if "nodata" in spec.kinds else []
        return HoleBatches(spec, bank, cfg.seed)

    def draw(self, G: nn.Module, opts: InpaintOptions) -> Draw:
        return draw_holes


FAMILY = Inpaint()
