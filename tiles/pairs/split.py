"""Spatial train/validation split with no leakage.

Neighbouring pixels of a raster are strongly correlated, so a random split of windows would
let validation windows overlap (or touch) training windows and report optimistic scores.
Instead, validation windows are chosen *spatially*:

* **blocks** (default): the region is cut into square blocks of ``block_tiles x block_tiles``
  tiles; a seeded random ``val_fraction`` of the blocks is held out, and the validation windows
  are the non-overlapping grid windows inside them;
* **strip** (regions too small for blocks): the last tiles along the longer axis;
* **AOI**: grid windows at least half inside user polygons (``--val-aoi``).

Every validation window is then grown by one tile on each side; a training window may not
intersect any grown window. Hence a training window and a validation window are always at least
one tile apart (the *gap*), and no validation window overlaps any training window.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geo_pix2pix.tiles.mosaic.grid import PixelWindow, axis_starts, grid_windows

__all__ = ["SplitConfig", "SpatialSplit", "split_blocks", "split_from_windows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitConfig:
    """How to hold out validation windows.

    Attributes:
        val_fraction: share of blocks held out for validation (0 disables validation).
        block_tiles: side of a held-out block, in tiles.
        seed: seed of the block choice, so the split is reproducible.
    """

    val_fraction: float = 0.2
    block_tiles: int = 4
    seed: int = 0


@dataclass(frozen=True)
class SpatialSplit:
    """Validation windows and the zones (validation windows grown by the gap) training avoids."""

    tile: int
    val_windows: tuple[PixelWindow, ...]
    exclusion: tuple[PixelWindow, ...]
    method: str

    def allows_training(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Boolean array: which ``tile``-sized windows at ``(rows, cols)`` may be trained on."""
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        ok = np.ones(rows.shape, dtype=bool)
        t = self.tile
        for ex in self.exclusion:
            ok &= ~(
                (rows < ex.row_stop) & (rows + t > ex.row) & (cols < ex.col_stop) & (cols + t > ex.col)
            )
        return ok


def _merge_blocks(windows: Sequence[PixelWindow], gap: int) -> tuple[PixelWindow, ...]:
    return tuple(w.dilate(gap) for w in windows)


def split_from_windows(
    val_windows: Sequence[PixelWindow], tile: int, method: str
) -> SpatialSplit:
    """A split from chosen validation windows: each is grown by one tile to form the gap."""
    return SpatialSplit(tile, tuple(val_windows), _merge_blocks(val_windows, tile), method)


def _training_possible(split: SpatialSplit, height: int, width: int) -> bool:
    rows = np.array(axis_starts(height, split.tile, split.tile // 2))
    cols = np.array(axis_starts(width, split.tile, split.tile // 2))
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return bool(split.allows_training(rr.ravel(), cc.ravel()).any())


def split_blocks(height: int, width: int, tile: int, config: SplitConfig) -> SpatialSplit:
    """Hold out blocks (or, for small regions, an edge strip) of a ``height x width`` region.

    Returns a split with no validation windows (and a logged warning) when the region is too
    small to keep both a validation window and a training window one tile apart.
    """
    none = SpatialSplit(tile, (), (), "none")
    if config.val_fraction <= 0:
        return none
    if height < tile or width < tile:
        return none
    block = config.block_tiles * tile
    if height >= 2 * block and width >= 2 * block:
        blocks = list(grid_windows(height, width, block, 0))
        rng = np.random.default_rng(config.seed)
        n_val = max(1, round(config.val_fraction * len(blocks)))
        chosen = sorted(rng.choice(len(blocks), size=n_val, replace=False).tolist())
        val: list[PixelWindow] = []
        for b in (blocks[i] for i in chosen):
            val.extend(w.shift(b.row, b.col) for w in grid_windows(b.height, b.width, tile, 0))
        split = split_from_windows(val, tile, "blocks")
        if _training_possible(split, height, width):
            return split
    # Strip along the longer axis: the last ceil(fraction * n) tile columns (or rows).
    long_len = max(height, width)
    n_tiles = long_len // tile
    n_val = max(1, math.ceil(config.val_fraction * n_tiles))
    if n_tiles >= n_val + 2:  # validation, a one-tile gap, and at least one training tile
        start = long_len - n_val * tile
        if width >= height:
            val = [
                PixelWindow(r, start + k * tile, tile, tile)
                for r in axis_starts(height, tile, 0)
                for k in range(n_val)
            ]
        else:
            val = [
                PixelWindow(start + k * tile, c, tile, tile)
                for k in range(n_val)
                for c in axis_starts(width, tile, 0)
            ]
        return split_from_windows(val, tile, "strip")
    log.warning(
        "the %dx%d-pixel region is too small to hold out validation windows one %d-pixel tile "
        "away from training windows; training without validation",
        width, height, tile,
    )
    return none
