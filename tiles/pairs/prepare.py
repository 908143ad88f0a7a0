"""From two raster paths to everything training needs: region, split, windows, statistics.

:func:`prepare_pair` opens a pair once in the main process and returns a small picklable
:class:`PreparedPair`; datasets reopen the rasters lazily in each worker process.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import NoValidDataError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow, axis_starts, grid_windows
from geo_pix2pix.tiles.pairs.pair import open_pair
from geo_pix2pix.tiles.pairs.reader import PairReader, PairSpec
from geo_pix2pix.tiles.pairs.sampling import WindowIndex, lattice_origins, window_valid_fraction
from geo_pix2pix.tiles.pairs.split import SpatialSplit, SplitConfig, split_blocks, split_from_windows

__all__ = ["TilerConfig", "PreparedPair", "prepare_pair", "choose_split"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TilerConfig:
    """How windows are cut from a pair.

    Attributes:
        tile: window side in pixels.
        min_valid: windows with a smaller valid fraction are skipped.
        split: how validation blocks are held out.
        val_aoi: polygons whose windows form the validation set (overrides ``split``).
        lattice_step: spacing of candidate training origins (default ``tile // 8``).
    """

    tile: int = 256
    min_valid: float = 0.95
    split: SplitConfig = field(default_factory=SplitConfig)
    val_aoi: str | None = None
    lattice_step: int | None = None


@dataclass(frozen=True)
class PreparedPair:
    """A pair ready for training: its spec, grid, split and candidate windows.

    Attributes:
        spec: what to open (resolved bands and resampling).
        region: the common footprint as a window of the imagery grid.
        crs: imagery CRS as WKT (``None`` if not georeferenced).
        transform: affine coefficients (a, b, c, d, e, f) of the region's top-left pixel.
        pixel_size: imagery pixel size (x, y) in CRS units.
        imagery_stats, map_stats: normalisation statistics of this pair.
        split: validation windows and the gap training avoids.
        train: candidate training windows that pass the split and ``min_valid``.
        val: validation windows that pass ``min_valid``.
        epoch_windows: non-overlapping tile windows in the training area (one epoch's worth).
        paletted_map_bands: map bands with a colour table (categorical codes), for a warning.
    """

    spec: PairSpec
    region: PixelWindow
    crs: str | None
    transform: tuple[float, ...]
    pixel_size: tuple[float, float]
    imagery_stats: BandStats
    map_stats: BandStats
    split: SpatialSplit
    train: WindowIndex
    val: tuple[PixelWindow, ...]
    epoch_windows: int = 0
    paletted_map_bands: tuple[int, ...] = ()


def _coarse_factor(tile: int, height: int, width: int) -> int:
    """Decimation of the validity mask: at most tile/8 (accuracy), at least enough for 16 Mpx."""
    f = max(1, tile // 8)
    while f > 1 and math.ceil(height / f) * math.ceil(width / f) < 1_000_000:
        f //= 2
    while math.ceil(height / f) * math.ceil(width / f) > 16_000_000:
        f *= 2
    return f


def choose_split(pair: PairReader, config: TilerConfig) -> SpatialSplit:
    """The validation split of an open pair: the AOI's windows if given, else held-out blocks."""
    h, w, tile = pair.region.height, pair.region.width, config.tile
    if config.val_aoi:
        from geo_pix2pix.tiles.pairs.aoi import aoi_val_windows

        return split_from_windows(aoi_val_windows(config.val_aoi, pair.crs, pair.transform, h, w, tile),
                                  tile, "aoi")
    return split_blocks(h, w, tile, config.split)


@dataclass(frozen=True)
class _Windows:
    """The windows a split leaves with enough valid pixels: training origins, validation windows,
    and how many non-overlapping tiles the training area holds (one epoch)."""

    rows: np.ndarray
    cols: np.ndarray
    val: tuple[PixelWindow, ...]
    epoch: int


def _windows(pair: PairReader, config: TilerConfig, split: SpatialSplit) -> _Windows:
    """Training origins on the lattice and validation windows of ``split`` whose valid share
    (read from a decimated validity mask, not the whole raster) is at least ``config.min_valid``."""
    h, w, tile = pair.region.height, pair.region.width, config.tile
    factor = _coarse_factor(tile, h, w)
    coarse = pair.coarse_valid(factor)

    def valid_enough(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return window_valid_fraction(coarse, factor, rows, cols, tile) >= config.min_valid

    rows, cols = lattice_origins(h, w, tile, config.lattice_step or max(1, tile // 8))
    keep = split.allows_training(rows, cols) & valid_enough(rows, cols)
    vr = np.array([v.row for v in split.val_windows], dtype=np.int64)
    vc = np.array([v.col for v in split.val_windows], dtype=np.int64)
    val_ok = valid_enough(vr, vc) if len(vr) else np.zeros(0, bool)
    val = tuple(v for v, ok in zip(split.val_windows, val_ok, strict=True) if ok)
    gr, gc = (a.ravel() for a in np.meshgrid(np.array(axis_starts(h, tile)), np.array(axis_starts(w, tile)),
                                             indexing="ij"))
    epoch = int((split.allows_training(gr, gc) & valid_enough(gr, gc)).sum())
    return _Windows(rows[keep], cols[keep], val, epoch)


def prepare_pair(spec: PairSpec, config: TilerConfig, pair_id: int = 0, holdout: bool = False) -> PreparedPair:
    """Open, align and index one imagery/map pair.

    With ``holdout`` the whole pair is validation: every valid non-overlapping window is a
    validation window and none is trained on (``--val-pairs``).

    Raises:
        GeopixError subclasses for unreadable rasters, no overlap, or too little valid data.
    """
    tile = config.tile
    with open_pair(spec) as pair:
        pair.require_tile(tile)
        h, w = pair.region.height, pair.region.width
        img_stats, map_stats = pair.compute_stats()
        if holdout:
            whole = PixelWindow(0, 0, h, w)
            split = SpatialSplit(tile, tuple(grid_windows(h, w, tile, 0)), (whole.dilate(tile),), "holdout")
        else:
            split = choose_split(pair, config)
        found = _windows(pair, config, split)
        if holdout and not found.val:
            raise NoValidDataError(
                f"held-out pair {spec.imagery} has no {tile}-pixel window with {config.min_valid:.0%} valid pixels"
            )
        if not len(found.rows) and not holdout:
            raise NoValidDataError(
                f"no {tile}-pixel training window of {spec.imagery} has {config.min_valid:.0%} "
                "valid pixels in both rasters (nodata, masks, NaN); lower --min-valid or "
                "--tile-size, or check the map's nodata"
            )
        index = WindowIndex(np.full(len(found.rows), pair_id, dtype=np.int64), found.rows, found.cols, tile)
        log.info("%s: region %dx%d px, %d training candidates, %d validation windows (%s split)",
                 spec.imagery, w, h, len(index), len(found.val), split.method)
        t = pair.transform
        return PreparedPair(
            spec=PairSpec(spec.imagery, spec.maps, pair.imagery_bands, pair.map_bands, pair.resampling, spec.aligned),
            region=pair.region, crs=pair.crs.to_wkt() if pair.crs else None,
            transform=(t.a, t.b, t.c, t.d, t.e, t.f), pixel_size=(abs(t.a), abs(t.e)),
            imagery_stats=img_stats, map_stats=map_stats, split=split, train=index, val=found.val,
            epoch_windows=0 if holdout else max(1, found.epoch), paletted_map_bands=pair.paletted_map_bands,
        )
