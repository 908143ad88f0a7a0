"""The spatial split never lets a validation window touch a training window."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.sampling import lattice_origins
from geo_pix2pix.tiles.pairs.split import SplitConfig, split_blocks


def _min_gap(a: PixelWindow, b: PixelWindow) -> int:
    """Chebyshev distance in pixels between two windows (0 if they overlap or touch)."""
    dr = max(b.row - a.row_stop, a.row - b.row_stop, 0)
    dc = max(b.col - a.col_stop, a.col - b.col_stop, 0)
    return max(dr, dc)


@given(st.integers(64, 900), st.integers(64, 900), st.sampled_from([32, 64]),
       st.floats(0.05, 0.5), st.integers(0, 5))
@settings(max_examples=60, deadline=None)
def test_no_training_window_within_one_tile_of_validation(h: int, w: int, tile: int,
                                                          frac: float, seed: int) -> None:
    split = split_blocks(h, w, tile, SplitConfig(val_fraction=frac, block_tiles=2, seed=seed))
    rows, cols = lattice_origins(h, w, tile, max(1, tile // 8))
    allowed = split.allows_training(rows, cols)
    train = [PixelWindow(int(r), int(c), tile, tile) for r, c in zip(rows[allowed], cols[allowed], strict=True)]
    for v in split.val_windows:
        assert 0 <= v.row and v.row_stop <= h and 0 <= v.col and v.col_stop <= w
        for t in train:
            assert not v.intersects(t)
            assert _min_gap(v, t) >= tile
    if split.val_windows:
        assert allowed.any()  # a split that leaves nothing to train on is never returned


def test_large_region_uses_blocks_with_requested_fraction() -> None:
    split = split_blocks(2048, 2048, 64, SplitConfig(val_fraction=0.25, block_tiles=4, seed=3))
    assert split.method == "blocks"
    n_blocks = (2048 // 256) ** 2
    assert len(split.val_windows) == round(0.25 * n_blocks) * 16
    # Same seed, same split: reproducible.
    again = split_blocks(2048, 2048, 64, SplitConfig(val_fraction=0.25, block_tiles=4, seed=3))
    assert again == split


def test_small_region_falls_back_to_a_strip_then_to_none() -> None:
    strip = split_blocks(512, 512, 128, SplitConfig(val_fraction=0.2))
    assert strip.method == "strip"
    assert {v.col for v in strip.val_windows} == {384}
    none = split_blocks(512, 512, 256, SplitConfig(val_fraction=0.2))
    assert none.method == "none" and none.val_windows == ()
    assert none.allows_training(np.array([0]), np.array([0])).all()
