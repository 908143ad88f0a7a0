"""Filling a raster's holes tile by tile through a predict function, out as a COG and its record.

It knows no network, nor how one takes its input: ``predict(tiles, unknown)`` gets the normalised
tiles, ``(n, C, T, T)`` float32, and their unknown pixels, ``(n, 1, T, T)`` bool (every pixel not
kept), and returns ``(n, C, T, T)``; the model side builds its input from them.

The pipeline (read-ahead, threads, :mod:`.pipeline`), tiling, reflection padding and
raised-cosine blending are the mosaicker's, so a hole that crosses tile boundaries is painted by
every tile that covers it, blended without seams. What differs from translation:

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

Both files are written to temporary names and renamed when complete; the record's stream is
written (by the calling thread) before the fill's pipeline starts and finished after it ends, so
a failure leaves neither.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from geo_pix2pix.tiles.atomic import check_output, remove_stale_partials
from geo_pix2pix.tiles.holes.plan import FILLED, KEPT, STATES, HolePlan, band_validity
from geo_pix2pix.tiles.mosaic.blend import MosaicPlan, RowBlender, plan_mosaic
from geo_pix2pix.tiles.mosaic.cog import StreamSpec, cog_options, cog_stream
from geo_pix2pix.tiles.mosaic.metadata import BandMetadata
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig
from geo_pix2pix.tiles.mosaic.pipeline import TileReader, run_pipeline
from geo_pix2pix.tiles.mosaic.strips import STREAM_ROWS
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["FillResult", "FillPredict", "fill_raster", "RECORD_COLORS"]

log = logging.getLogger(__name__)

#: ``predict(tiles, unknown)``: normalised ``(n, C, T, T)`` float32 and ``(n, 1, T, T)`` bool -> ``(n, C, T, T)``.
FillPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]
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


def fill_raster(src_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                record_path: str | os.PathLike[str], predict: FillPredict, cfg: MosaicConfig, plan: HolePlan,
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
        spec = StreamSpec(width, height, len(cfg.bands), src.dtypes[cfg.bands[0] - 1], src.crs, src.transform)
        rspec = StreamSpec(width, height, 1, "uint8", src.crs, src.transform)
        meta = BandMetadata.like(src, cfg.bands, cfg.tags)
    masked = nodata is None and bool((plan.state > FILLED).any())
    rmeta = BandMetadata.record(STATES, RECORD_COLORS, "geopix inpaint: pixel state", cfg.tags)
    mplan = plan_mosaic(height, width, cfg.tile, cfg.overlap)
    job = _Fill(predict, cfg, mplan, plan)
    with cog_stream(record, rspec, cog_options(True, cfg.creation_options), False, rmeta) as rsink:
        for r in range(0, height, STREAM_ROWS):
            rsink.write(plan.state[None, r:r + STREAM_ROWS], r)
        with cog_stream(out, spec, cog_options(False, cfg.creation_options), masked, meta) as sink:
            reader = TileReader(src_path, mplan, cfg.bands)
            try:
                compose = _Compose(src_path, cfg, plan, masked)
                try:
                    run_pipeline(reader, job, compose, sink, RowBlender(mplan, len(cfg.bands)),
                                 range(len(mplan.row_starts)), progress)
                finally:
                    compose.close()
            finally:
                reader.close()
    return FillResult(out, record, job.run, mplan.n_tiles, plan)


class _Fill:
    """The :class:`~.pipeline.TileJob` of a fill: the tiles holding a pixel to fill, in batches of
    ``batch_size`` from the left of each tile row, with their unknown pixels."""

    def __init__(self, network: FillPredict, cfg: MosaicConfig, mplan: MosaicPlan, plan: HolePlan) -> None:
        self.network, self.cfg, self.mplan, self.plan = network, cfg, mplan, plan
        self.run = 0  # tiles run

    def _states(self, k: int, cols: list[int]) -> np.ndarray:
        """``(len(cols), 1, T, T)`` states of the tiles at ``cols`` of tile row ``k``."""
        return self.mplan.tiles(k, cols, lambda r0, r1, c0, c1: self.plan.state[None, r0:r1, c0:c1])

    def batches(self, k: int) -> list[list[int]]:
        states = self._states(k, list(range(len(self.mplan.col_starts))))
        todo = [i for i in range(len(states)) if (states[i] == FILLED).any()]
        self.run += len(todo)
        bs = self.cfg.batch_size
        return [todo[j:j + bs] for j in range(0, len(todo), bs)]

    def predict(self, k: int, cols: list[int], tiles: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        return self.network(self.cfg.in_stats.normalize(tiles), self._states(k, cols) != KEPT)


class _Compose:
    """The :class:`~.pipeline.Output` of a fill: the input as read, the filled pixels from the
    blended prediction, the input's nodata value where nothing is known (kept as read without
    one); the internal mask of the known pixels where the input has no nodata value but unknown
    pixels (``masked``)."""

    def __init__(self, src_path: str, cfg: MosaicConfig, plan: HolePlan, masked: bool) -> None:
        self.src = open_raster(src_path)
        self.cfg, self.plan, self.masked = cfg, plan, masked

    def block(self, row: int, col: int, values: np.ndarray) -> np.ndarray:
        n, m = values.shape[1:]
        window = Window(col, row, m, n)
        raw = self.src.read(list(self.cfg.bands), window=window)
        state = self.plan.state[row:row + n, col:col + m]
        fill = state == FILLED
        out: np.ndarray = raw.copy()
        if fill.any():
            painted = self.cfg.out_stats.denormalize(values[:, fill][:, :, None])[:, :, 0].astype(raw.dtype)
            if not self.plan.given:  # a pixel missing in some bands keeps the bands it has
                valid = band_validity(self.src, self.cfg.bands, window, raw)
                painted = np.where(valid[:, fill], raw[:, fill], painted)
            out[:, fill] = _off_nodata(painted, self.src.nodata)
        if self.src.nodata is not None:
            out[:, state > FILLED] = np.asarray(self.src.nodata).astype(raw.dtype)
        return out

    def strip(self, row: int, data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return data, (self.plan.state[row:row + data.shape[1]] <= FILLED) if self.masked else None

    def close(self) -> None:
        self.src.close()


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
