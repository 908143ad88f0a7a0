"""Filling a region's holes with an inpainting model: checks, the hole plan, then the fill.

The region is checked against the model file as for translate (bands, dtype, pixel size, content;
:func:`~geo_pix2pix.inference.translate.check_region`); its holes are planned
(:mod:`~geo_pix2pix.tiles.holes.plan`: the region's own invalid pixels, or ``holes``, a mask raster
or polygons; holes wider than ``2 * max_hole`` left as nodata with a warning); then
:func:`~geo_pix2pix.tiles.mosaic.fill.fill_raster` paints them, tile by tile, into a COG on the region's
grid in its dtype, and writes the filled-pixels record beside it. The fill hands the model the
normalised tiles and their unknown pixels; the model's input is built here, by the family's own
:func:`~geo_pix2pix.families.inpaint.holed_input` (the one place that knows its channel layout).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo_pix2pix._version import __version__
from geo_pix2pix.families.inpaint import holed_input
from geo_pix2pix.inference.predict import Predictor
from geo_pix2pix.inference.run_options import (
    DEFAULT_MAX_HOLE,
    FillOptions,
    ModelOptions,
    OutputOptions,
    TilingOptions,
)
from geo_pix2pix.inference.translate import check_region, choose_tiling
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import GeopixError
from geo_pix2pix.tiles.holes.plan import plan_holes, read_holes, read_validity
from geo_pix2pix.tiles.mosaic.fill import FillPredict, FillResult, fill_raster
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["InpaintConfig", "inpaint", "record_path", "DEFAULT_MAX_HOLE"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class InpaintConfig(FillOptions, OutputOptions, TilingOptions, ModelOptions):
    """Settings of one fill: the model (an inpainting model, ``--task inpaint``) and its device,
    the tiling and output options translate has too, and the holes
    (:mod:`geo_pix2pix.inference.run_options`, where each field is documented)."""


def record_path(out: str | os.PathLike[str]) -> Path:
    """The default filled-pixels record of output ``out``: ``name.filled.tif`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.filled.tif")


def inpaint(region: str | os.PathLike[str], out: str | os.PathLike[str], cfg: InpaintConfig,
            progress: Callable[[int, int], None] | None = None, predictor: Predictor | None = None) -> FillResult:
    """Fill the holes of ``region`` into ``out`` (and the record); ``progress(tiles_done, tiles_total)``."""
    pred = predictor or Predictor(cfg.model, cfg.device, cfg.amp, cfg.tta)
    meta = pred.meta
    if meta.family != "inpaint":
        raise GeopixError(f"{pred.path} is a {meta.family} model ({meta.direction}); geopix inpaint needs a model "
                          "trained with --task inpaint (geopix translate runs this one)")
    if cfg.max_hole < 0:
        raise GeopixError(f"--max-hole must be at least 0, got {cfg.max_hole:g}")
    if not isinstance(meta.input_stats, BandStats):  # pragma: no cover - inpainting models read imagery
        raise GeopixError(f"{pred.path} does not read imagery values")
    # content unlike the training imagery is only a warning here: valid pixels come out unchanged
    bands, warnings = check_region(str(region), meta, cfg.bands, force=True)
    for w in warnings:
        log.warning(w)
    record = Path(cfg.record) if cfg.record else record_path(out)
    with open_raster(str(region), "region") as src:
        height, width = src.height, src.width
        valid = read_validity(src, bands)
        holes = read_holes(cfg.holes, src) if cfg.holes else None
    plan = plan_holes(valid, holes, cfg.max_hole)
    if plan.too_large:
        log.warning("%d of %d hole(s) (%d px) are too large to fill credibly (farthest pixel more than %g px from a "
                    "known one; the largest %.0f px): left as nodata, marked 2 in %s (--max-hole to change)",
                    plan.too_large, plan.holes, plan.unfilled_pixels, cfg.max_hole, plan.largest_radius, record)
    if not plan.holes:
        log.warning("the region has no holes%s: the output is a copy of it", "" if cfg.holes else
                    " (no nodata, mask or NaN pixels; give them with --holes)")
    tile, overlap = choose_tiling(pred, height, width, cfg.tile, cfg.overlap, cfg.batch_size)
    fcfg = MosaicConfig(bands, meta.input_stats, meta.input_stats, tile, overlap, cfg.batch_size,
                        dict(cfg.creation_options), {
        "GEOPIX_MODEL": str(pred.path.resolve()), "GEOPIX_STEP": str(meta.step), "GEOPIX_FAMILY": meta.family,
        "GEOPIX_VERSION": __version__, "GEOPIX_TASK": "inpaint", "GEOPIX_MAX_HOLE": f"{cfg.max_hole:g}",
        "GEOPIX_HOLES": str(cfg.holes) if cfg.holes else "the region's nodata",
        "GEOPIX_FILLED_PIXELS": str(plan.filled_pixels), "GEOPIX_UNFILLED_PIXELS": str(plan.unfilled_pixels)})
    counter = None
    if progress is not None:
        from geo_pix2pix.runtime.progress import counting
        from geo_pix2pix.tiles.mosaic.blend import plan_mosaic

        counter = counting(progress, plan_mosaic(height, width, tile, overlap).n_tiles)
    return fill_raster(region, out, record, holed(pred), fcfg, plan, cfg.overwrite, counter)


def holed(pred: Predictor) -> FillPredict:
    """The fill's predict function for an inpainting model: its input built by ``holed_input``
    (the tiles with their unknown pixels set to 0, and the unknown mask as one more channel)."""
    import torch

    def predict(tiles: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        return pred(holed_input(torch.from_numpy(tiles), torch.from_numpy(unknown)).numpy())

    return predict
