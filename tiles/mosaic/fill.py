"""Filling a raster's holes tile by tile through a predict function, out as a COG and its record.

It knows no network: ``predict`` takes ``(n, C + 1, T, T)`` float32 (the normalised tiles with
their unknown pixels set to 0, then the unknown-pixel mask) and returns ``(n, C, T, T)``.

The tiling, reflection padding and raised-cosine blending are the mosaicker's
(:mod:`.blend`, :class:`~.mosaic.TileReader`), so a hole that crosses tile boundaries is painted
by every tile that covers it, blended without seams. What differs from translation:

* a tile without a pixel to fill (:data:`~.hole_mask.FILLED`) is not run: its pixels are all
  copied or left, so its prediction would be thrown away (the blend of a hole pixel only ever
  involves tiles that contain it, which are all run);
* the output is the input, bit for bit, except in the filled pixels: the blended prediction is
  turned back into the input's values (dtype, range, rounding) and written there alone;
* pixels of holes too large to fill and the input's nodata outside the holes are nodata: the
  input's nodata value where it has one, else the output's internal mask;
* a second COG, the *record*, gives every pixel its state (:data:`~.hole_mask.STATES`: kept,
  filled, too large, nodata) as class codes with a colour table, so an analyst can tell real
  from painted in QGIS at a glance.

Both files are written to temporary names and renamed when complete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from geo_pix2pix.tiles.atomic import check_output, remove_stale_partials
from geo_pix2pix.tiles.holes.plan import FILLED, KEPT, STATES, HolePlan, band_validity
from geo_pix2pix.tiles.mosaic.blend import RowBlender, plan_mosaic
from geo_pix2pix.tiles.mosaic.cog import STREAM_ROWS, StreamSpec, StripBuffer, cog_options, cog_stream
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, Predict, TileReader
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["FillResult", "fill_raster", "RECORD_COLORS"]

log = logging.getLogger(__name__)

#: Colours of the record's states: kept transparent grey, filled magenta, too large orange, nodata black.
RECORD_COLORS = {0: (200, 200, 200, 0), 1: (230, 0, 200, 255), 2: (255, 140, 0, 255), 3: (0, 0, 0, 255)}


@dataclass(frozen=True)
class FillResult:
    """What was written: the outputs, the tiles run out of all, and the plan's counts."""

    path: Path
    record: Path
    tiles_run: int
    tiles: int
    plan: HolePlan


def _describe_like(dst: Any, src: Any, bands: tuple[int, ...]) -> None:
    """The input's colour interpretation (alpha aside), band descriptions and units."""
    interp = [src.colorinterp[b - 1] for b in bands]
    with contextlib.suppress(Exception):  # a combination GDAL refuses is kept as GDAL's default
        dst.colorinterp = interp
    for i, b in enumerate(bands, start=1):
        if src.descriptions[b - 1]:
            dst.set_band_description(i, src.descriptions[b - 1])
        if src.units[b - 1]:
            dst.update_tags(i, UNITS=src.units[b - 1])


def _describe_record(dst: Any, tags: dict[str, str]) -> None:
    from rasterio.enums import ColorInterp

    dst.colorinterp = [ColorInterp.palette]
    dst.write_colormap(1, RECORD_COLORS)
    dst.set_band_description(1, "geopix inpaint: pixel state")
    dst.update_tags(1, **{f"CLASS_{c}": n for c, n in STATES.items()})
    dst.update_tags(GEOPIX_CLASSES=json.dumps([{"code": c, "name": n} for c, n in STATES.items()]), **tags)


def fill_raster(src_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                record_path: str | os.PathLike[str], predict: Predict, cfg: MosaicConfig, plan: HolePlan,
                overwrite: bool = False, progress: Callable[[int], None] | None = None) -> FillResult:
    """Fill ``plan``'s holes of ``src_path`` through ``predict`` into the COG ``out_path`` and write
    the states into the COG ``record_path`` (``progress(n)``: tiles finished since the last call).
    ``cfg``: the mosaicker's settings; ``in_stats`` normalises the region's values for ``predict``,
    ``out_stats`` (the same, for an inpainting model) turns predictions back into them."""
    src_path, out, record = str(src_path), Path(out_path), Path(record_path)
    check_output(out, [src_path], overwrite)
    check_output(record, [src_path, out], overwrite)
    for stale in remove_stale_partials(out) + remove_stale_partials(record):
        log.warning("removed a stale temporary file from an interrupted run: %s", stale)
    with open_raster(src_path, "region") as src:
        height, width, nodata = src.height, src.width, src.nodata
        spec = StreamSpec(width, height, len(cfg.bands), src.dtypes[cfg.bands[0] - 1], src.crs, src.transform, nodata)
        rspec = StreamSpec(width, height, 1, "uint8", src.crs, src.transform, None)
        masked = nodata is None and bool((plan.state > FILLED).any())

        def describe(dst: Any) -> None:
            _describe_like(dst, src, cfg.bands)
            dst.update_tags(**cfg.tags)

        mplan = plan_mosaic(height, width, cfg.tile, cfg.overlap)
        with cog_stream(record, rspec, cog_options(True, cfg.creation_options), False,
                        lambda dst: _describe_record(dst, cfg.tags)) as rsink:
            for r in range(0, height, STREAM_ROWS):
                rsink.write(plan.state[None, r:r + STREAM_ROWS], r)
            with cog_stream(out, spec, cog_options(False, cfg.creation_options), masked, describe) as sink:

                def write(row: int, values: np.ndarray) -> None:
                    data, mask = _compose(src, cfg, plan, row, values, masked)
                    sink.write(data, row, mask)

                strips = StripBuffer(0, write)
                run = _fill_rows(src_path, mplan, cfg, plan, predict, progress, strips.add)
                strips.close()
    return FillResult(out, record, run, mplan.n_tiles, plan)


def _compose(src: Any, cfg: MosaicConfig, plan: HolePlan, row: int, values: np.ndarray, masked: bool
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows ``[row, row + n)`` of the output: the input as read, the filled pixels from the blended
    prediction, the input's nodata value where nothing is known (kept as read without one); and
    the internal mask to write (``masked``: the input has no nodata value but unknown pixels)."""
    n = values.shape[1]
    window = Window(0, row, src.width, n)
    raw = src.read(list(cfg.bands), window=window)
    state = plan.state[row:row + n]
    fill = state == FILLED
    out = raw.copy()
    if fill.any():
        painted = cfg.out_stats.denormalize(values[:, fill][:, :, None])[:, :, 0].astype(raw.dtype)
        if not plan.given:  # a pixel missing in some bands keeps the bands it has
            painted = np.where(band_validity(src, cfg.bands, window, raw)[:, fill], raw[:, fill], painted)
        out[:, fill] = _off_nodata(painted, src.nodata)
    if src.nodata is not None:
        out[:, state > FILLED] = np.asarray(src.nodata).astype(raw.dtype)
    return out, (state <= FILLED) if masked else None


def _off_nodata(values: np.ndarray, nodata: float | None) -> np.ndarray:
    """Painted values that happen to equal the nodata value moved one step into the valid range
    (a filled pixel must not read as nodata): the next integer, or the next float."""
    if nodata is None or nodata != nodata:
        return values
    hit = values == np.asarray(nodata).astype(values.dtype)
    if not hit.any():
        return values
    if np.issubdtype(values.dtype, np.integer):
        delta = 1 if nodata < np.iinfo(values.dtype).max else -1
        return np.where(hit, (values.astype(np.int64) + delta).astype(values.dtype), values)
    return np.where(hit, np.nextafter(values, np.asarray(np.inf, values.dtype)), values)


def _fill_rows(src_path: str, mplan: Any, cfg: MosaicConfig, plan: HolePlan, predict: Predict,
               progress: Callable[[int], None] | None, emit: Callable[[int, np.ndarray], None]) -> int:
    """Every tile row: the tiles holding a pixel to fill through ``predict``, blended; the finished
    rows to ``emit(row, values)``. Returns the number of tiles run."""
    reader = TileReader(src_path, mplan, cfg)
    blender = RowBlender(mplan, len(cfg.bands))
    run_count = 0
    try:
        for k in range(len(mplan.row_starts)):
            states = mplan.tile_row(k, lambda lo, hi: plan.state[None, lo:hi])  # (n, 1, T, T)
            todo = [i for i in range(len(states)) if (states[i] == FILLED).any()]
            preds: dict[int, np.ndarray] = {}
            if todo:
                raw = reader.row_tiles(k)
                for j in range(0, len(todo), cfg.batch_size):
                    idx = todo[j:j + cfg.batch_size]
                    unknown = states[idx] != KEPT
                    x = np.where(unknown, np.float32(0), cfg.in_stats.normalize(raw[idx]))
                    out = predict(np.concatenate([x, unknown.astype(np.float32)], axis=1))
                    preds.update(zip(idx, out))
            for i in range(len(states)):
                if i in preds:
                    blender.add_tiles(preds[i][None])
                else:
                    blender.skip_tiles(1)
            blender.end_row()
            run_count += len(todo)
            for row, values in blender.finished():
                emit(row, values)
            if progress is not None:
                progress(len(states))
    finally:
        reader.close()
    return run_count
