"""A given tile: clamped to the region when larger than it, refused when it cannot fit in memory."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from geo_pix2pix.inference import tiling
from geo_pix2pix.inference.tiling import choose_tiling, tile_bytes
from geo_pix2pix.tiles.errors import TileSizeError

GIB = 2**30


def _pred(multiple: int = 32, ngf: int = 32) -> SimpleNamespace:
    g = SimpleNamespace(name="unet", in_channels=3, out_channels=3, ngf=ngf)
    return SimpleNamespace(meta=SimpleNamespace(generator=g, tile_size=64), G=SimpleNamespace(multiple=multiple),
                           plan=SimpleNamespace(device="cpu"))


@pytest.fixture
def free_memory(monkeypatch: pytest.MonkeyPatch):
    def set_free(n: int | None) -> None:
        monkeypatch.setattr(tiling, "available_memory", lambda device=None: n)

    return set_free


@pytest.mark.parametrize(("h", "w", "given", "tile"), [
    (512, 512, 8192, 512),   # one tile covering the region, not 256x its pixels of padding
    (718, 791, 131072, 800),  # the smallest multiple of the stride product covering the longer side
    (512, 512, 512, 512),    # a tile that just covers is kept
    (2000, 300, 1024, 1024),  # smaller than the longer side: as given
])
def test_a_tile_larger_than_the_region_is_clamped_to_cover_it(free_memory, h, w, given, tile) -> None:
    free_memory(64 * GIB)
    got, overlap = choose_tiling(_pred(), h, w, given)
    assert got == tile and got % 32 == 0
    assert overlap == (0 if given > tile else tile // 4)  # one tile: nothing to blend


def test_a_clamped_tile_keeps_a_given_overlap(free_memory) -> None:
    free_memory(64 * GIB)
    assert choose_tiling(_pred(), 512, 512, 8192, 64) == (512, 64)


def test_a_tile_the_generator_cannot_take_is_refused_before_clamping(free_memory) -> None:
    free_memory(64 * GIB)
    with pytest.raises(TileSizeError, match="8200 is not one"):
        choose_tiling(_pred(), 512, 512, 8200)


def test_a_tile_that_cannot_fit_in_memory_is_refused_with_the_estimate_and_a_tile_that_fits(free_memory) -> None:
    free_memory(16 * GIB)
    with pytest.raises(TileSizeError) as err:
        choose_tiling(_pred(), 200_000, 200_000, 131072, batch_size=8)
    msg = str(err.value)
    assert "--tile-size 131072 needs about" in msg and "16.0 GiB is available" in msg and "--batch-size" in msg
    fits = int(msg.split("(--tile-size ")[1].split(")")[0])
    assert fits % 32 == 0 and tile_bytes(_pred().meta, fits, 8) <= 16 * GIB < tile_bytes(_pred().meta, fits + 32, 8)
    assert choose_tiling(_pred(), 200_000, 200_000, fits, batch_size=8)[0] == fits


def test_the_batch_counts_only_the_tiles_the_region_has(free_memory) -> None:
    """One tile covers a 4000-pixel region: a batch of 8 holds one tile."""
    free_memory(tile_bytes(_pred().meta, 4000, 1) + 1)
    assert choose_tiling(_pred(), 4000, 4000, 8192, batch_size=8) == (4000, 0)
    with pytest.raises(TileSizeError, match="a batch of 8 tiles"):
        choose_tiling(_pred(), 40000, 40000, 4000, batch_size=8)


def test_unknown_free_memory_refuses_nothing(free_memory) -> None:
    free_memory(None)
    assert choose_tiling(_pred(), 200_000, 200_000, 131072)[0] == 131072


def test_available_memory_reads_the_host() -> None:
    free = tiling.available_memory("cpu")
    assert free is None or free > 0
