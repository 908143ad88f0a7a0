"""Seam-free blending of overlapping tile predictions: pure geometry and arithmetic, no I/O.

**Frame.** The raster (``height x width``) is extended by reflection: ``pad = overlap // 2``
pixels on every side, plus whatever a raster smaller than one tile needs to reach a tile. Real
pixels are then never on the outer edge of a tile, where a convolutional network sees zero
padding and predicts worst. The tile grid of :mod:`.grid` is laid over the padded frame.

**Weights.** Each tile's prediction is weighted by ``w(r) * w(c)`` with the raised cosine
``w(i) = sin^2(pi/2 * (d + 0.5) / overlap)`` capped at 1, where ``d`` is the distance of pixel
``i`` to the tile's nearer edge. Within an overlap of exactly ``overlap`` pixels two neighbours'
weights are ``sin^2`` and ``cos^2`` of the same angle, so they sum to one; the snapped last tile
overlaps more, so the accumulated prediction is always divided by the accumulated weight. Since
``d + 0.5 > 0`` no covered pixel has zero weight, and the division is exact: a generator that
returns its input reproduces the raster.

**Streaming.** Tiles are processed one row of tiles at a time. When tile row ``k`` is done, the
frame rows above the next tile row's start receive no further contribution and are emitted, so
the blender holds at most ``tile + stride`` rows: memory depends on width and tile size only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from geo_pix2pix.tiles.mosaic.grid import axis_starts, check_tiling

__all__ = ["blend_window", "reflect_index", "MosaicPlan", "plan_mosaic", "RowBlender"]


def blend_window(tile: int, overlap: int) -> np.ndarray:
    """1-D raised-cosine ramp of length ``tile`` (all ones when ``overlap == 0``)."""
    if overlap == 0:
        return np.ones(tile, np.float32)
    i = np.arange(tile)
    d = np.minimum(i, tile - 1 - i).astype(np.float64)
    w = np.sin(0.5 * math.pi * np.minimum(1.0, (d + 0.5) / overlap)) ** 2
    return w.astype(np.float32)


def reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Map indexes outside ``[0, n)`` back inside by mirror reflection (edge not repeated)."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    m = np.mod(idx, period)
    return np.where(m < n, m, period - m)


@dataclass(frozen=True)
class MosaicPlan:
    """Where tiles go: the padded frame, the tile starts, and the crop back to the raster.

    Attributes:
        height, width: raster size.
        tile, overlap: tiling.
        pad_top, pad_left: frame rows/columns above/left of the raster.
        frame_height, frame_width: padded frame size.
        row_starts, col_starts: tile origins in frame coordinates.
    """

    height: int
    width: int
    tile: int
    overlap: int
    pad_top: int
    pad_left: int
    frame_height: int
    frame_width: int
    row_starts: tuple[int, ...]
    col_starts: tuple[int, ...]

    @property
    def n_tiles(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def source_rows(self, frame_row: int) -> np.ndarray:
        """Raster rows feeding frame rows ``[frame_row, frame_row + tile)`` (reflected)."""
        return reflect_index(np.arange(frame_row, frame_row + self.tile) - self.pad_top, self.height)

    def source_cols(self) -> np.ndarray:
        """Raster columns feeding every frame column (reflected)."""
        return reflect_index(np.arange(self.frame_width) - self.pad_left, self.width)

    def tile_row(self, k: int, read_rows: Callable[[int, int], np.ndarray]) -> np.ndarray:
        """``(n_cols, bands, tile, tile)`` tiles of tile row ``k``, in the source's dtype.

        ``read_rows(lo, hi)`` returns raster rows ``[lo, hi)`` as ``(bands, hi - lo, width)``
        (a windowed read of a file, or a slice of an array): the rows the tile row reflects into
        the padded frame are read once, then cut with one fancy-indexing copy.
        """
        rows = self.source_rows(self.row_starts[k])
        lo, hi = int(rows.min()), int(rows.max()) + 1
        strip = read_rows(lo, hi)
        frame = strip[:, (rows - lo)[:, None], self.source_cols()[None, :]]
        return np.stack([frame[:, :, c:c + self.tile] for c in self.col_starts])


def _pads(length: int, tile: int, overlap: int) -> tuple[int, int]:
    before = overlap // 2
    after = max(before, tile - length - before)
    return before, after


def plan_mosaic(height: int, width: int, tile: int, overlap: int) -> MosaicPlan:
    """Plan the padded frame and tile grid for a ``height x width`` raster."""
    check_tiling(tile, overlap)
    top, bottom = _pads(height, tile, overlap)
    left, right = _pads(width, tile, overlap)
    fh, fw = height + top + bottom, width + left + right
    return MosaicPlan(height, width, tile, overlap, top, left, fh, fw,
                      tuple(axis_starts(fh, tile, overlap)), tuple(axis_starts(fw, tile, overlap)))


class RowBlender:
    """Accumulates weighted tile predictions row of tiles by row of tiles; yields final rows.

    Usage: for tile row ``k``, call :meth:`add_tiles` with the predictions of its tiles in
    batches, left to right, then :meth:`end_row` (or :meth:`add_row` with the whole row at once);
    then iterate :meth:`finished` to get ``(raster_row_start, values)`` blocks, where ``values``
    is ``(channels, rows, width)`` float32, cropped to the raster.

    Memory: two fixed buffers of ``tile`` frame rows (the weighted sum and the weight sum), about
    ``(channels + 1) * tile * frame_width * 4`` bytes, allocated once. When tile row ``k`` is
    added the buffers hold frame rows ``[row_starts[k], row_starts[k] + tile)``: every earlier
    row was emitted after row ``k - 1``, and the tile covers no later one.
    """

    def __init__(self, plan: MosaicPlan, channels: int, first_row: int = 0) -> None:
        """``first_row``: the tile row to start at (a shard's first, :mod:`.shard`); the rows it
        emits before the tile rows above have been added lack their contributions."""
        self.plan = plan
        self.channels = channels
        w = blend_window(plan.tile, plan.overlap)
        self.weight2d = np.outer(w, w)
        self._lo = plan.row_starts[first_row]  # frame row held in buffer row 0
        self._acc = np.zeros((channels, plan.tile, plan.frame_width), np.float32)
        self._wsum = np.zeros((plan.tile, plan.frame_width), np.float32)
        self._k = first_row
        self._col = 0  # next tile column of row k

    def add_tiles(self, preds: np.ndarray) -> None:
        """``preds``: ``(n, channels, tile, tile)``, the next ``n`` tiles of the current row."""
        p = self.plan
        if self._col + len(preds) > len(p.col_starts):
            raise ValueError(f"tile row {self._k} has {len(p.col_starts)} tiles, got more")
        rs = slice(p.row_starts[self._k] - self._lo, p.row_starts[self._k] - self._lo + p.tile)
        for c0, pred in zip(p.col_starts[self._col:], preds):
            cs = slice(c0, c0 + p.tile)
            self._acc[:, rs, cs] += pred * self.weight2d
            self._wsum[rs, cs] += self.weight2d
        self._col += len(preds)

    def skip_tiles(self, n: int = 1) -> None:
        """Pass over the next ``n`` tiles of the current row without a prediction (inpainting skips
        tiles without holes): their pixels get no weight from them, and a pixel no tile weighs
        comes out as 0."""
        if self._col + n > len(self.plan.col_starts):
            raise ValueError(f"tile row {self._k} has {len(self.plan.col_starts)} tiles, got more")
        self._col += n

    def end_row(self) -> None:
        """Close tile row ``k``: every one of its tiles must have been added."""
        if self._col != len(self.plan.col_starts):
            raise ValueError(f"tile row {self._k} ended after {self._col} of {len(self.plan.col_starts)} tiles")
        self._k += 1
        self._col = 0

    def add_row(self, preds: np.ndarray) -> None:
        """``preds``: ``(n_cols, channels, tile, tile)`` predictions of tile row ``k``."""
        self.add_tiles(preds)
        self.end_row()

    def finished(self) -> Iterator[tuple[int, np.ndarray]]:
        """Emit frame rows that no later tile row touches, cropped to raster rows and columns."""
        p = self.plan
        stop = p.row_starts[self._k] if self._k < len(p.row_starts) else p.frame_height
        if stop <= self._lo:
            return
        n = stop - self._lo
        # Crop frame rows [lo, stop) to raster rows [lo - pad_top, stop - pad_top) ∩ [0, height).
        a = max(self._lo, p.pad_top)
        b = min(stop, p.pad_top + p.height)
        if b > a:
            rows, cols = slice(a - self._lo, b - self._lo), slice(p.pad_left, p.pad_left + p.width)
            wsum = self._wsum[None, rows, cols]
            yield a - p.pad_top, np.divide(self._acc[:, rows, cols], wsum, out=np.zeros_like(self._acc[:, rows, cols]),
                                           where=wsum > 0)
        keep = p.tile - n  # >= 0 (n <= stride, or = tile at the end): rows the next tile row adds to
        self._acc[:, :keep] = self._acc[:, n:]  # shift them to the top of the buffers
        self._wsum[:keep] = self._wsum[n:]
        self._acc[:, keep:] = 0
        self._wsum[keep:] = 0
        self._lo = stop
