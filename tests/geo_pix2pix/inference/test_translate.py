"""The translate tile picked when the user gives none."""

from __future__ import annotations

import pytest

from geo_pix2pix.inference.translate import MIN_DEFAULT_TILE, default_tile


@pytest.mark.parametrize(("trained", "h", "w", "tile"), [
    (64, 2048, 2048, 256),    # a 64-pixel model: four times the side on big rasters
    (128, 2048, 2048, 256),   # the CPU recipe's 128-pixel model: twice the side
    (96, 5000, 300, 288),     # the smallest multiple of the training tile >= 256
    (256, 4000, 4000, 256),   # the paper's tile is already large enough
    (512, 4000, 4000, 512),   # never smaller than the training tile
    (64, 100, 70, 128),       # no larger than the smallest multiple covering the raster
    (64, 20, 33, 64),
    (64, 192, 10, 192),
])
def test_default_tile(trained: int, h: int, w: int, tile: int) -> None:
    assert default_tile(trained, h, w) == tile
    assert default_tile(trained, h, w) % trained == 0


def test_default_tile_reaches_the_minimum_on_large_rasters() -> None:
    for trained in (16, 32, 48, 64, 80, 128, 200):
        t = default_tile(trained, 10_000, 10_000)
        assert MIN_DEFAULT_TILE <= t < MIN_DEFAULT_TILE + trained
