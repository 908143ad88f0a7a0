"""Where training windows may be drawn: a lattice of candidate windows and their valid fraction.

Random training windows are drawn from a fine lattice of window origins (every ``step``
pixels, ``step`` about an eighth of a tile) rather than from arbitrary pixels: this keeps the
set of candidates explicit, so the spatial split can be checked once for all of them, and a
training step is a pure function of the seed and step number (exact resume).

The valid fraction of a candidate is estimated from a decimated validity mask with a summed-area
table, so millions of candidates are scored without reading full-resolution masks; each sample
still carries its exact per-pixel mask, which the losses use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from geo_pix2pix.tiles.mosaic.grid import PixelWindow, axis_starts

__all__ = ["WindowIndex", "lattice_origins", "window_valid_fraction", "MAX_CANDIDATES"]

#: Upper bound on lattice candidates per raster pair; the lattice step grows to respect it.
MAX_CANDIDATES = 2_000_000


def lattice_origins(height: int, width: int, tile: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Origins ``(rows, cols)`` of a lattice of windows over a region, snapped at the far edges.

    The step grows if the lattice would exceed :data:`MAX_CANDIDATES` windows.
    """
    step = max(1, step)
    while math.ceil((height - tile + 1) / step) * math.ceil((width - tile + 1) / step) > MAX_CANDIDATES:
        step *= 2
    rows = np.array(axis_starts(height, tile, tile - min(step, tile)), dtype=np.int64)
    cols = np.array(axis_starts(width, tile, tile - min(step, tile)), dtype=np.int64)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return rr.ravel(), cc.ravel()


def window_valid_fraction(
    coarse_valid: np.ndarray, factor: int, rows: np.ndarray, cols: np.ndarray, tile: int
) -> np.ndarray:
    """Approximate valid fraction of ``tile``-sized windows from a mask decimated by ``factor``.

    Window ``[r, r + tile)`` covers coarse cells ``[r // f, ceil((r + tile) / f))``; the
    summed-area table gives each window's count of valid cells in O(1).
    """
    sat = np.zeros((coarse_valid.shape[0] + 1, coarse_valid.shape[1] + 1), dtype=np.int64)
    sat[1:, 1:] = np.cumsum(np.cumsum(coarse_valid.astype(np.int64), axis=0), axis=1)
    r0 = np.clip(rows // factor, 0, coarse_valid.shape[0])
    c0 = np.clip(cols // factor, 0, coarse_valid.shape[1])
    r1 = np.clip(-(-(rows + tile) // factor), 0, coarse_valid.shape[0])
    c1 = np.clip(-(-(cols + tile) // factor), 0, coarse_valid.shape[1])
    count = sat[r1, c1] - sat[r0, c1] - sat[r1, c0] + sat[r0, c0]
    area = np.maximum((r1 - r0) * (c1 - c0), 1)
    return cast(np.ndarray, count / area)


@dataclass(frozen=True)
class WindowIndex:
    """Candidate windows across one or more raster pairs: parallel arrays, one entry a window.

    Attributes:
        pair: index of the raster pair each window belongs to.
        rows, cols: region-relative window origins.
        tile: window side in pixels.
    """

    pair: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    tile: int

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def window(self, i: int) -> tuple[int, PixelWindow]:
        """The pair index and window of candidate ``i``."""
        return int(self.pair[i]), PixelWindow(int(self.rows[i]), int(self.cols[i]), self.tile, self.tile)

    @staticmethod
    def concat(parts: list[WindowIndex]) -> WindowIndex:
        """Join the indexes of several pairs (their ``pair`` fields already set)."""
        tile = parts[0].tile
        return WindowIndex(
            np.concatenate([p.pair for p in parts]),
            np.concatenate([p.rows for p in parts]),
            np.concatenate([p.cols for p in parts]),
            tile,
        )
