"""The tile grid shared by the tiler and the mosaicker: pure geometry, no I/O.

A region of ``height x width`` pixels is covered by square windows of ``tile`` pixels. Along
each axis the window starts are ``0, s, 2s, ...`` with stride ``s = tile - overlap``, as long
as a whole window fits; if the last such window stops short of the edge, one more window is
added with its start *snapped* to ``length - tile``. Hence, for ``length >= tile``::

    n = ceil((length - tile) / s) + 1        windows per axis
    starts = [min(i * s, length - tile) for i in range(n)]

Every pixel is covered, no window is partial (each lies wholly inside the region), and
neighbouring windows overlap by at least ``overlap`` pixels (the snapped last one by more).
The grid is anchored at the region's top-left corner so that the same region always yields the
same windows, which lets training chips, validation blocks and translated tiles line up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from geo_pix2pix.tiles.errors import TileSizeError

__all__ = ["PixelWindow", "axis_starts", "grid_windows", "grid_shape", "check_tiling"]


@dataclass(frozen=True, order=True)
class PixelWindow:
    """A rectangle of pixels: rows ``[row, row + height)``, columns ``[col, col + width)``."""

    row: int
    col: int
    height: int
    width: int

    @property
    def row_stop(self) -> int:
        return self.row + self.height

    @property
    def col_stop(self) -> int:
        return self.col + self.width

    def intersects(self, other: PixelWindow) -> bool:
        """True when the two windows share at least one pixel."""
        return (
            self.row < other.row_stop
            and other.row < self.row_stop
            and self.col < other.col_stop
            and other.col < self.col_stop
        )

    def dilate(self, margin: int) -> PixelWindow:
        """The window grown by ``margin`` pixels on every side (may extend past the region)."""
        return PixelWindow(
            self.row - margin, self.col - margin, self.height + 2 * margin, self.width + 2 * margin
        )

    def shift(self, row: int, col: int) -> PixelWindow:
        """The same window with its origin moved by ``(row, col)`` pixels."""
        return PixelWindow(self.row + row, self.col + col, self.height, self.width)

    def to_slices(self) -> tuple[slice, slice]:
        """Numpy slices ``(rows, cols)`` of this window."""
        return slice(self.row, self.row_stop), slice(self.col, self.col_stop)


def check_tiling(tile: int, overlap: int) -> None:
    """Raise :class:`TileSizeError` unless ``tile > 0`` and ``0 <= overlap < tile``."""
    if tile <= 0:
        raise TileSizeError(f"tile size must be positive, got {tile}")
    if overlap < 0:
        raise TileSizeError(f"overlap must be zero or positive, got {overlap}")
    if overlap >= tile:
        raise TileSizeError(
            f"overlap ({overlap}) must be smaller than the tile size ({tile}); "
            f"use an overlap below {tile}, e.g. {tile // 4}"
        )


def axis_starts(length: int, tile: int, overlap: int = 0) -> list[int]:
    """Window starts along one axis of ``length`` pixels (see the module docstring).

    Raises:
        TileSizeError: if the tiling is invalid or ``length < tile`` (no whole window fits).
    """
    check_tiling(tile, overlap)
    if length < tile:
        raise TileSizeError(f"a {tile}-pixel tile does not fit in {length} pixels")
    stride = tile - overlap
    count = math.ceil((length - tile) / stride) + 1
    return [min(i * stride, length - tile) for i in range(count)]


def grid_shape(height: int, width: int, tile: int, overlap: int = 0) -> tuple[int, int]:
    """Number of window rows and columns of the grid over a ``height x width`` region."""
    return len(axis_starts(height, tile, overlap)), len(axis_starts(width, tile, overlap))


def grid_windows(height: int, width: int, tile: int, overlap: int = 0) -> Iterator[PixelWindow]:
    """Windows of the grid, row-major (all windows of a row before the next row)."""
    cols = axis_starts(width, tile, overlap)
    for row in axis_starts(height, tile, overlap):
        for col in cols:
            yield PixelWindow(row, col, tile, tile)
