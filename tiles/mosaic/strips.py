"""Rows of an output regrouped into whole strips, so that every block of a file is written once.

The stream and the overview levels of :mod:`.cog` are striped GeoTIFFs of :data:`STREAM_ROWS`
rows per strip. A write that covers part of a strip makes GDAL keep that strip, or read it back
from the file and write it again when the next part comes; :class:`StripBuffer` hands a writer
whole strips only, whatever the blocks the rows arrive in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["STREAM_ROWS", "StripBuffer"]

#: Rows per strip of the temporary stream file and of the overview levels.
STREAM_ROWS = 64


class StripBuffer:
    """Blocks arriving band by band, handed on as whole strips of :data:`STREAM_ROWS` rows counted
    from ``row0``, the first row of the file written (the last strip partial, on :meth:`close`).

    A *band* is rows ``[row, row + n)`` of the full ``width``; its blocks come left to right (a
    full-width block is a band of one block), and bands top to bottom, each starting where the
    last ended. When a band's last column arrives, its whole strips go to ``flush(row, data)``:
    ``data`` is ``(bands, rows, width)``, rows a multiple of :data:`STREAM_ROWS` starting at
    ``row``; the rows below the last whole strip wait for the next band.

    Memory: the band being filled and the rows left over from the one before it.
    """

    def __init__(self, row0: int, width: int, flush: Callable[[int, np.ndarray], None]) -> None:
        self.row0 = row0  # strips are counted from here
        self.row = row0  # first buffered row
        self.width = width
        self._flush = flush
        self._left: np.ndarray | None = None  # rows [row, row + left) not yet handed on
        self._band: np.ndarray | None = None  # the band being filled, below the rows left over
        self._band_row = 0  # first row of the band being filled
        self._col = 0  # its next column

    @property
    def _left_rows(self) -> int:
        return 0 if self._left is None else self._left.shape[1]

    def add(self, row: int, values: np.ndarray, col: int = 0) -> None:
        """``values``: rows ``[row, row + n)``, columns ``[col, col + m)``, the block after the last
        one added (see the class docstring)."""
        n, m = values.shape[1], values.shape[2]
        if self._band is None:
            if row != self.row + self._left_rows or col != 0:
                raise RuntimeError(f"rows out of order: got {row}, column {col}")  # a caller's bug, not user input
            self._band = np.empty((values.shape[0], self._left_rows + n, self.width), values.dtype)
            if self._left is not None:
                self._band[:, :self._left_rows] = self._left
            self._left, self._band_row, self._col = None, row, 0
        elif (row, n, col) != (self._band_row, self._band.shape[1] - (self._band_row - self.row), self._col):
            raise RuntimeError(f"block out of order: got rows {row}..{row + n}, column {col}")
        self._band[:, -n:, col:col + m] = values
        self._col = col + m
        if self._col == self.width:
            band, self._band = self._band, None
            self._end_band(band)

    def _end_band(self, band: np.ndarray) -> None:
        total = band.shape[1]
        done = self.row - self.row0
        whole = (done + total) // STREAM_ROWS * STREAM_ROWS - done
        if whole > 0:
            self._emit(band[:, :whole])
        if whole < total:
            self._left = band[:, whole:].copy()  # not a view: the band can go

    def close(self) -> None:
        """Hand on what is left (the last, partial strip)."""
        if self._band is not None:
            raise RuntimeError(f"the band at row {self.row} ended at column {self._col} of {self.width}")
        if self._left is not None:
            left, self._left = self._left, None
            self._emit(left)

    def _emit(self, data: np.ndarray) -> None:
        self._flush(self.row, data)
        self.row += data.shape[1]
