"""The mosaicker: identity reproduces the input, georeferencing and masks carried over, COG."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rio_cogeo.cogeo import cog_validate

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import OutputExistsError
from geo_pix2pix.tiles.mosaic.blend import RowBlender, blend_window, plan_mosaic
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster
from tests.conftest import real, sha256, smooth_image, write_raster


def _u8(bands: int) -> BandStats:
    return BandStats("uint8", (0.0,) * bands, (255.0,) * bands)


def identity(x: np.ndarray) -> np.ndarray:
    return x.copy()


def test_raised_cosine_neighbours_sum_to_one() -> None:
    w = blend_window(64, 16)
    assert w.min() > 0  # never zero: every covered pixel keeps a weight
    np.testing.assert_allclose(w[-16:] + w[:16], 1.0, atol=1e-6)  # overlap of two neighbours
    assert (w[16:48] == 1).all()


@given(st.integers(1, 300), st.integers(1, 300), st.sampled_from([(32, 0), (32, 8), (64, 16), (64, 63)]),
       st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_blender_weights_normalise_to_one_everywhere(h: int, w: int, tiling: tuple[int, int], batch: int) -> None:
    tile, overlap = tiling
    plan = plan_mosaic(h, w, tile, overlap)
    img = np.random.default_rng(0).random((1, h, w)).astype(np.float32)
    cols = plan.source_cols()
    b = RowBlender(plan, 1)
    out = np.full((1, h, w), np.nan, np.float32)
    for r0 in plan.row_starts:
        strip = img[:, plan.source_rows(r0)][:, :, cols]
        tiles = np.stack([strip[:, :, c:c + tile] for c in plan.col_starts])
        for i in range(0, len(tiles), batch):  # tiles arrive in batches, as from the model
            b.add_tiles(tiles[i:i + batch])
            _take(b, out)  # the columns final so far
        b.end_row()
        _take(b, out)
    np.testing.assert_allclose(out, img, atol=1e-5)


def _take(blender: RowBlender, out: np.ndarray) -> None:
    for row, col, vals in blender.finished():
        block = out[:, row:row + vals.shape[1], col:col + vals.shape[2]]
        assert block.shape == vals.shape and np.isnan(block).all()  # each pixel emitted once
        block[...] = vals


def test_blender_refuses_a_row_with_too_many_or_too_few_tiles() -> None:
    plan = plan_mosaic(100, 100, 32, 8)
    n = len(plan.col_starts)
    b = RowBlender(plan, 1)
    b.add_tiles(np.zeros((n - 1, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="ended after"):
        b.end_row()
    with pytest.raises(ValueError, match="got more"):
        b.add_tiles(np.zeros((2, 1, 32, 32), np.float32))


@pytest.mark.parametrize(("h", "w", "bands", "tile", "overlap"),
                         [(300, 517, 3, 64, 16), (40, 30, 1, 64, 16), (128, 128, 4, 64, 0), (257, 129, 3, 32, 31)])
def test_identity_reproduces_the_input_exactly(tmp_path, h, w, bands, tile, overlap) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(h, w, bands, seed=h))
    cfg = MosaicConfig(bands=tuple(range(1, bands + 1)), in_stats=_u8(bands), out_stats=_u8(bands),
                       tile=tile, overlap=overlap, batch_size=3, tags={"GEOPIX_STEP": "1"})
    res = mosaic_raster(src, tmp_path / "out.tif", identity, cfg)
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        assert (b.crs, b.transform, b.width, b.height, b.count) == (a.crs, a.transform, a.width, a.height, bands)
        np.testing.assert_array_equal(b.read(), a.read())
        assert b.tags()["GEOPIX_STEP"] == "1"
    assert cog_validate(str(res.path))[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "out.tif"]  # no temporary files left


def test_nodata_footprint_of_rgb_byte_is_preserved(tmp_path) -> None:
    src = real("geotiff/rasterio/RGB.byte.tif")
    before = sha256(src)
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=128, overlap=32)
    res = mosaic_raster(src, tmp_path / "out.tif", identity, cfg)
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        assert res.masked
        np.testing.assert_array_equal(b.dataset_mask(), a.dataset_mask())
        valid = a.dataset_mask() > 0
        np.testing.assert_array_equal(b.read()[:, valid], a.read()[:, valid])
        assert b.overviews(1)  # large enough for an internal overview
    assert cog_validate(str(res.path))[0]
    assert sha256(src) == before


def test_existing_output_and_output_equal_to_input_are_refused(tmp_path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(64, 64, 3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=32, overlap=8)
    out = tmp_path / "out.tif"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        mosaic_raster(src, out, identity, cfg)
    assert out.read_bytes() == b"precious"
    with pytest.raises(OutputExistsError, match="same file as input"):
        mosaic_raster(src, src, identity, cfg, overwrite=True)
    mosaic_raster(src, out, identity, cfg, overwrite=True)
    with rasterio.open(out) as b:
        assert b.count == 3


def test_output_does_not_depend_on_how_long_predict_takes(tmp_path) -> None:
    """The reader and writer threads run around the model: slow and fast batches in any mix
    must still be blended in order, every tile once."""
    import time

    src = write_raster(tmp_path / "in.tif", smooth_image(150, 170, 3, seed=3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=32, overlap=8, batch_size=2)
    delays = iter(np.random.default_rng(0).choice([0.0, 0.0, 0.004], 1000))

    def jittery(x: np.ndarray) -> np.ndarray:
        time.sleep(next(delays))
        return x.copy()

    seen: list[int] = []
    res = mosaic_raster(src, tmp_path / "out.tif", jittery, cfg, progress=seen.append)
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        np.testing.assert_array_equal(b.read(), a.read())
    assert sum(seen) == res.tiles


def test_failure_mid_way_leaves_no_partial_output(tmp_path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(200, 200, 3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=_u8(3), out_stats=_u8(3), tile=32, overlap=8)
    calls = {"n": 0}

    def failing(x: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("boom")
        return x

    out = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"):
        mosaic_raster(src, out, failing, cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]  # no OUT, no temporary files
