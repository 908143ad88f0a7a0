"""Property tests of the tile grid shared by the tiler and the mosaicker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_pix2pix.tiles.errors import TileSizeError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow, axis_starts, grid_shape, grid_windows


@st.composite
def tilings(draw: st.DrawFn) -> tuple[int, int, int]:
    tile = draw(st.integers(1, 64))
    overlap = draw(st.integers(0, tile - 1))
    length = draw(st.integers(tile, 400))
    return length, tile, overlap


@given(tilings())
@settings(max_examples=300, deadline=None)
def test_axis_covers_every_pixel_with_whole_windows(t: tuple[int, int, int]) -> None:
    length, tile, overlap = t
    starts = axis_starts(length, tile, overlap)
    assert starts[0] == 0  # anchored at the top-left
    assert all(0 <= s <= length - tile for s in starts)  # no partial window
    assert starts[-1] == length - tile  # last one snapped to the edge
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all()
    steps = np.diff(starts)
    assert (steps > 0).all()  # strictly increasing, no duplicates
    assert (steps[:-1] == tile - overlap).all() if len(steps) > 1 else True
    assert (steps <= tile - overlap).all()  # neighbours overlap by at least `overlap`


@given(st.integers(16, 300), st.integers(16, 300), st.sampled_from([16, 32, 48]), st.integers(0, 15))
@settings(max_examples=100, deadline=None)
def test_grid_is_row_major_and_matches_shape(h: int, w: int, tile: int, overlap: int) -> None:
    if h < tile or w < tile:
        with pytest.raises(TileSizeError):
            list(grid_windows(h, w, tile, overlap))
        return
    wins = list(grid_windows(h, w, tile, overlap))
    rows, cols = grid_shape(h, w, tile, overlap)
    assert len(wins) == rows * cols
    assert wins == sorted(wins)  # row-major order
    cover = np.zeros((h, w), bool)
    for win in wins:
        assert win.row_stop <= h and win.col_stop <= w
        cover[win.to_slices()] = True
    assert cover.all()


def test_known_grid() -> None:
    assert axis_starts(700, 256, 64) == [0, 192, 384, 444]
    assert axis_starts(256, 256, 0) == [0]
    assert axis_starts(512, 256, 0) == [0, 256]


@pytest.mark.parametrize(("tile", "overlap"), [(0, 0), (64, 64), (64, 100), (64, -1)])
def test_bad_tilings_are_refused(tile: int, overlap: int) -> None:
    with pytest.raises(TileSizeError):
        axis_starts(500, tile, overlap)


def test_window_geometry() -> None:
    a = PixelWindow(0, 0, 10, 10)
    assert a.intersects(PixelWindow(9, 9, 5, 5))
    assert not a.intersects(PixelWindow(10, 0, 5, 5))  # touching edges share no pixel
    assert a.dilate(2) == PixelWindow(-2, -2, 14, 14)
