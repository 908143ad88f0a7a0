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

**Streaming.** Tiles are processed one row of tiles at a time, left to right. A pixel is final
once the tiles that cover it have been added: those of the rows above the next tile row's start,
left of the next tile's start. :class:`RowBlender` hands such blocks on as soon as they are final,
so it holds one tile row's worth of columns only around the tiles being added, plus, across the
whole width, the rows the next tile row overlaps (the *carry*). Every pixel receives the same
additions, in the same order (tile row by tile row, left to right, onto zeros), whatever the
blocks: the result does not depend on how the tiles are batched or the blocks cut.
"""

from __future__ import annotations

import math
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

import numpy as np

from geo_pix2pix.tiles.mosaic.grid import axis_starts, check_tiling

__all__ = ["blend_window", "reflect_index", "MosaicPlan", "plan_mosaic", "RowBlender", "CARRY_IN_MEMORY"]

#: Largest carry (bytes) a :class:`RowBlender` keeps in memory; a larger one goes to a temporary
#: file (about 1 KB per column at the default overlap, up to 3 KB above a snapped last tile row).
CARRY_IN_MEMORY = 32 << 20


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
    return cast(np.ndarray, np.where(m < n, m, period - m))


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
        """``(n_cols, bands, tile, tile)``: every tile of tile row ``k`` (:meth:`tiles`), from
        ``read_rows(lo, hi)``, raster rows ``[lo, hi)`` as ``(bands, hi - lo, width)`` (an array's
        rows, a class raster's states...)."""
        return self.tiles(k, range(len(self.col_starts)), lambda r0, r1, c0, c1: read_rows(r0, r1)[:, :, c0:c1])

    def tiles(self, k: int, cols: Sequence[int], read: Callable[[int, int, int, int], np.ndarray]) -> np.ndarray:
        """``(len(cols), bands, tile, tile)`` tiles of tile row ``k`` at tile columns ``cols``
        (increasing), in the source's dtype.

        ``read(r0, r1, c0, c1)`` returns raster rows ``[r0, r1)`` and columns ``[c0, c1)`` as
        ``(bands, r1 - r0, c1 - c0)`` (a windowed read of a file, or a slice of an array). The
        pixels a run of neighbouring tiles reflects into the padded frame are read once, as one
        window, then cut with one fancy-indexing copy; so memory follows the tiles asked for, not
        the raster's width.
        """
        rows = self.source_rows(self.row_starts[k])
        lo, hi = int(rows.min()), int(rows.max()) + 1
        out: list[np.ndarray] = []
        cols = list(cols)
        while cols:
            run = 1  # neighbouring tile columns are read as one window
            while run < len(cols) and cols[run] == cols[run - 1] + 1:
                run += 1
            f0, f1 = self.col_starts[cols[0]], self.col_starts[cols[run - 1]] + self.tile
            src_cols = reflect_index(np.arange(f0, f1) - self.pad_left, self.width)
            c0, c1 = int(src_cols.min()), int(src_cols.max()) + 1
            window = read(lo, hi, c0, c1)
            frame = window[:, (rows - lo)[:, None], (src_cols - c0)[None, :]]
            out.extend(frame[:, :, c - f0:c - f0 + self.tile] for c in (self.col_starts[j] for j in cols[:run]))
            cols = cols[run:]
        return np.stack(out)


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


class _Carry:
    """Sums of frame rows a later tile row adds to, for every frame column: blocks of columns in
    order, appended as a tile row finishes them and taken from the front by the next.

    A carry larger than :data:`CARRY_IN_MEMORY` bytes goes to an anonymous temporary file, written
    in one pass and read back in the next: the blender's memory then does not grow with the width.
    """

    def __init__(self, channels: int, rows: int, width: int) -> None:
        self.channels, self.rows = channels, rows
        self._blocks: deque[tuple[int, int, np.ndarray | None, np.ndarray | None]] = deque()  # col, n, acc, wsum
        big = (channels + 1) * rows * width * 4 > CARRY_IN_MEMORY
        self._file: BinaryIO | None = tempfile.TemporaryFile(prefix="geopix-carry-") if big else None
        self._reading = False

    def put(self, col: int, acc: np.ndarray, wsum: np.ndarray) -> None:
        if not self.rows:
            return
        if self._file is None:
            self._blocks.append((col, acc.shape[2], acc.copy(), wsum.copy()))
            return
        self._file.write(np.ascontiguousarray(acc).tobytes())
        self._file.write(np.ascontiguousarray(wsum).tobytes())
        self._blocks.append((col, acc.shape[2], None, None))

    def _head(self) -> tuple[int, int, np.ndarray, np.ndarray]:
        col, n, acc, wsum = self._blocks[0]
        if acc is None or wsum is None:  # in the file: read it back, in the order it was written
            f = self._file
            if f is None:
                raise RuntimeError("a carried block was neither kept nor written")  # a bug, not user input
            if not self._reading:
                f.seek(0)
                self._reading = True
            acc = np.frombuffer(f.read(self.channels * self.rows * n * 4), np.float32).reshape(self.channels,
                                                                                                self.rows, n)
            wsum = np.frombuffer(f.read(self.rows * n * 4), np.float32).reshape(self.rows, n)
            self._blocks[0] = (col, n, acc, wsum)
        return col, n, acc, wsum

    def take(self, c0: int, c1: int, acc: np.ndarray, wsum: np.ndarray) -> None:
        """Write the sums of columns ``[c0, c1)`` into the top rows of ``acc``/``wsum`` (which
        start at column ``c0``) and forget every column left of ``c1``."""
        while self._blocks and c0 < c1:
            col, n, a, w = self._head()
            lo, hi = max(c0, col), min(c1, col + n)
            if hi > lo:
                acc[:, :self.rows, lo - c0:hi - c0] = a[:, :, lo - col:hi - col]
                wsum[:self.rows, lo - c0:hi - c0] = w[:, lo - col:hi - col]
            if col + n <= c1:
                self._blocks.popleft()
            else:
                break

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class RowBlender:
    """Accumulates weighted tile predictions, tile row by tile row, left to right; yields blocks
    of final values.

    Usage: for tile row ``k``, call :meth:`add_tiles` (or :meth:`skip_tiles`) with its tiles in
    batches, left to right, then :meth:`end_row` (or :meth:`add_row` with the whole row at once);
    iterate :meth:`finished` whenever convenient to get ``(row, col, values)`` blocks, ``values``
    ``(channels, rows, cols)`` float32, cropped to the raster, each pixel once, the rows of a tile
    row before the next tile row's, left to right within them.

    Memory: the columns of the tiles added since the last :meth:`finished` (``(channels + 1) *
    tile * 4`` bytes per column), plus the carry: ``(channels + 1) * 4`` bytes per frame column
    for each frame row the next tile row overlaps (``overlap`` rows; up to ``tile - 1`` above
    the snapped last one), in a temporary file when it exceeds :data:`CARRY_IN_MEMORY`.
    """

    def __init__(self, plan: MosaicPlan, channels: int, first_row: int = 0) -> None:
        """``first_row``: the tile row to start at (a shard's first, :mod:`.shard`); the rows it
        emits before the tile rows above have been added lack their contributions."""
        self.plan = plan
        self.channels = channels
        w = blend_window(plan.tile, plan.overlap)
        self.weight2d = np.outer(w, w)
        self._k = first_row
        self._col = 0  # next tile column of row k
        self._pending: list[tuple[int, int, np.ndarray]] = []
        self._carry = _Carry(channels, 0, plan.frame_width)  # nothing above the first row
        self._start_row()

    def _start_row(self) -> None:
        """Open tile row ``k``: frame rows ``[R, R + tile)``, no column yet."""
        p = self.plan
        if self._k >= len(p.row_starts):
            return
        r = p.row_starts[self._k]
        self._next = p.row_starts[self._k + 1] if self._k + 1 < len(p.row_starts) else p.frame_height
        self._next_carry = _Carry(self.channels, r + p.tile - self._next, p.frame_width)
        self._a = self._b = 0  # the working columns [a, b) of the frame
        self._acc = np.zeros((self.channels, p.tile, 0), np.float32)
        self._wsum = np.zeros((p.tile, 0), np.float32)

    def _extend(self, b: int) -> None:
        """Grow the working columns to ``[a, b)``: the carried sums on top, zeros below."""
        if b <= self._b:
            return
        t, n = self.plan.tile, b - self._b
        acc = np.zeros((self.channels, t, n), np.float32)
        wsum = np.zeros((t, n), np.float32)
        self._carry.take(self._b, b, acc, wsum)
        self._acc = np.concatenate([self._acc, acc], axis=2)
        self._wsum = np.concatenate([self._wsum, wsum], axis=1)
        self._b = b

    def add_tiles(self, preds: np.ndarray) -> None:
        """``preds``: ``(n, channels, tile, tile)``, the next ``n`` tiles of the current row."""
        p = self.plan
        if self._col + len(preds) > len(p.col_starts):
            raise ValueError(f"tile row {self._k} has {len(p.col_starts)} tiles, got more")
        if not len(preds):
            return
        self._extend(p.col_starts[self._col + len(preds) - 1] + p.tile)
        for c0, pred in zip(p.col_starts[self._col:], preds, strict=False):  # a batch: part of the row's rest
            cs = slice(c0 - self._a, c0 - self._a + p.tile)
            self._acc[:, :, cs] += pred * self.weight2d
            self._wsum[:, cs] += self.weight2d
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
        self._emit(self.plan.frame_width)
        self._carry.close()
        self._carry = self._next_carry
        self._k += 1
        self._col = 0
        self._start_row()

    def close(self) -> None:
        """Let go of the carries' temporary files (also after a failure; idempotent)."""
        self._carry.close()
        if self._k < len(self.plan.row_starts):
            self._next_carry.close()

    def add_row(self, preds: np.ndarray) -> None:
        """``preds``: ``(n_cols, channels, tile, tile)`` predictions of tile row ``k``."""
        self.add_tiles(preds)
        self.end_row()

    def finished(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """Emit the blocks that no later tile touches (see the class docstring)."""
        p = self.plan
        if self._k < len(p.row_starts) and self._col:
            self._emit(p.col_starts[self._col] if self._col < len(p.col_starts) else p.frame_width)
        pending, self._pending = self._pending, []
        yield from pending

    def _emit(self, e: int) -> None:
        """Frame columns ``[a, e)`` of row ``k`` are final above the next tile row: queue them,
        cropped to the raster, and carry the rows below to the next tile row."""
        if e <= self._a:
            return
        self._extend(e)
        p, n, m = self.plan, self._next - self.plan.row_starts[self._k], e - self._a
        acc, wsum = self._acc[:, :, :m], self._wsum[:, :m]
        self._next_carry.put(self._a, acc[:, n:], wsum[n:])
        r0 = p.row_starts[self._k]
        a, b = max(r0, p.pad_top), min(self._next, p.pad_top + p.height)  # frame rows kept
        c, d = max(self._a, p.pad_left), min(e, p.pad_left + p.width)  # frame columns kept
        if b > a and d > c:
            rows, cols = slice(a - r0, b - r0), slice(c - self._a, d - self._a)
            w = wsum[None, rows, cols]
            values = np.divide(acc[:, rows, cols], w, out=np.zeros_like(acc[:, rows, cols]), where=w > 0)
            self._pending.append((a - p.pad_top, c - p.pad_left, values))
        self._acc, self._wsum = self._acc[:, :, m:].copy(), self._wsum[:, m:].copy()
        self._a = e
