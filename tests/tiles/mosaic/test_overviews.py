"""Overviews built while rows stream: GDAL's sizes and averages, whatever the row blocks."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster
from geo_pix2pix.tiles.mosaic.overviews import OverviewPyramid, halve, overview_sizes
from tests.conftest import smooth_image, write_raster


def _levels(path) -> list[np.ndarray]:  # noqa: ANN001
    """Every overview level of a raster, read as stored (no resampling on the way)."""
    with rasterio.open(path) as ds:
        n = len(ds.overviews(1))
    out = []
    for k in range(n):
        with rasterio.open(path, overview_level=k) as level:
            out.append(level.read())
    return out


@pytest.mark.parametrize(("h", "w", "block"), [(1000, 300, 256), (512, 512, 512), (513, 513, 256), (520, 520, 256),
                                               (1025, 1025, 512), (2049, 300, 512), (100, 5000, 256), (700, 1100, 128)])
def test_sizes_are_the_levels_gdal_makes(tmp_path, h: int, w: int, block: int) -> None:
    src = write_raster(tmp_path / "z.tif", np.zeros((1, h, w), np.uint8))
    rasterio.shutil.copy(str(src), str(tmp_path / "c.tif"), driver="COG", BLOCKSIZE=str(block))
    assert overview_sizes(h, w, block) == [level.shape[1:] for level in _levels(tmp_path / "c.tif")]


def test_sizes_of_a_large_raster() -> None:
    assert overview_sizes(8192, 8192, 512) == [(4096, 4096), (2048, 2048), (1024, 1024), (512, 512)]


def test_halve_rounds_integers_half_up_and_refuses_odd_sides() -> None:
    a = np.array([[[0, 1, 7, 9], [1, 1, 9, 9]]], np.uint8)
    np.testing.assert_array_equal(halve(a), [[[1, 9]]])  # (0+1+1+1+2)//4 = 1; (7+9+9+9+2)//4 = 9
    f = np.array([[[0.0, 1.0], [1.0, 1.0]]], np.float32)
    assert halve(f)[0, 0, 0] == pytest.approx(0.75)
    assert halve(np.full((1, 2, 2), 65535, np.uint16))[0, 0, 0] == 65535  # no overflow
    with pytest.raises(ValueError, match="even"):
        halve(np.zeros((1, 3, 2), np.uint8))


@given(st.integers(1, 35), st.integers(1, 20), st.lists(st.integers(1, 9), min_size=1, max_size=80))
@settings(max_examples=40, deadline=None)
def test_streamed_levels_equal_halving_the_whole_raster(tmp_path_factory, h2: int, w2: int, blocks: list[int]) -> None:
    h, w = 2 * h2, 2 * w2  # the mosaicker streams overviews of even-sized rasters only
    d = tmp_path_factory.mktemp("ovr")
    data = np.random.default_rng(h * w).integers(0, 256, (2, h, w)).astype(np.uint8)
    sizes = overview_sizes(h, w, 4)
    paths = [d / f"o{k}.tif" for k in range(len(sizes))]
    pyramid = OverviewPyramid(paths, {"width": w, "height": h, "count": 2, "dtype": "uint8",
                                      "transform": Affine.identity()}, sizes)
    row, i = 0, 0
    while row < h:  # the rows arrive in blocks of arbitrary sizes
        n = min(blocks[i % len(blocks)], h - row)
        pyramid.add(data[:, row:row + n])
        row, i = row + n, i + 1
    pyramid.finish()
    expect = data
    for path, size in zip(paths, sizes, strict=True):
        with rasterio.open(path) as level:
            assert (level.height, level.width) == size
            got = level.read()
        if expect.shape[1] % 2 == 0 and expect.shape[2] % 2 == 0:
            np.testing.assert_array_equal(got, halve(expect))
        expect = got


@pytest.mark.parametrize(("h", "w", "levels"), [(704, 1088, 4), (700, 1100, 4), (1000, 778, 3)])
def test_translated_cog_has_gdal_identical_overviews(tmp_path, h: int, w: int, levels: int) -> None:
    """The COG's overviews (built by the writer) are exactly what GDAL's COG driver makes,
    including below levels with odd sides (700 x 1100 at block 128: 175 x 275 -> 87 x 137), and
    the output keeps the input's grid, colour interpretation and metadata."""
    src = write_raster(tmp_path / "in.tif", smooth_image(h, w, 3, seed=5))
    u8 = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=u8, out_stats=u8, tile=128, overlap=32,
                       creation_options={"BLOCKSIZE": "128"}, tags={"GEOPIX_STEP": "7"})
    out = mosaic_raster(src, tmp_path / "out.tif", lambda x, valid=None: x.copy(), cfg).path
    ref = tmp_path / "gdal.tif"
    rasterio.shutil.copy(str(src), str(ref), driver="COG", BLOCKSIZE="128", RESAMPLING="AVERAGE")
    ours, gdal = _levels(out), _levels(ref)
    assert len(ours) == len(gdal) == levels
    for a, b in zip(ours, gdal, strict=True):
        np.testing.assert_array_equal(a, b)
    with rasterio.open(out) as a, rasterio.open(src) as s:
        assert (a.crs, a.transform, a.tags()["GEOPIX_STEP"]) == (s.crs, s.transform, "7")
        assert [c.name for c in a.colorinterp] == ["red", "green", "blue"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gdal.tif", "in.tif", "out.tif"]  # temporaries gone


@pytest.mark.parametrize(("options", "factors"), [({"OVERVIEWS": "NONE"}, []), ({"OVERVIEW_COUNT": "1"}, [2])])
def test_overview_options_are_honoured(tmp_path, options: dict[str, str], factors: list[int]) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(600, 600, 3, seed=2))
    u8 = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=u8, out_stats=u8, tile=128, overlap=32,
                       creation_options={"BLOCKSIZE": "128", **options})
    with rasterio.open(mosaic_raster(src, tmp_path / "out.tif", lambda x, valid=None: x.copy(), cfg).path) as a:
        assert a.overviews(1) == factors


def test_a_failure_mid_way_surfaces_and_leaves_no_level_files(tmp_path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(600, 600, 3, seed=2))
    u8 = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=u8, out_stats=u8, tile=128, overlap=32,
                       creation_options={"BLOCKSIZE": "128"})
    calls = {"n": 0}

    def failing(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 4:  # after rows have gone into the level files
            raise RuntimeError("boom")
        return x.copy()

    with pytest.raises(RuntimeError, match="boom"):
        mosaic_raster(src, tmp_path / "out.tif", failing, cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


@pytest.mark.parametrize(("dtype", "high"), [("uint16", 4000.0), ("float32", 1.0)])
def test_other_output_types_get_gdal_overviews_too(tmp_path, dtype: str, high: float) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(600, 800, 3, seed=1))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=BandStats("uint8", (0.0,) * 3, (255.0,) * 3),
                       out_stats=BandStats(dtype, (0.0,), (high,)), tile=128, overlap=32,
                       creation_options={"BLOCKSIZE": "128"})
    out = mosaic_raster(src, tmp_path / "out.tif", lambda x, valid=None: x[:, :1].copy(), cfg).path
    ref = tmp_path / "gdal.tif"
    rasterio.shutil.copy(str(out), str(tmp_path / "flat.tif"), driver="GTiff")  # same pixels, no overviews
    rasterio.shutil.copy(str(tmp_path / "flat.tif"), str(ref), driver="COG", BLOCKSIZE="128", RESAMPLING="AVERAGE")
    ours, gdal = _levels(out), _levels(ref)
    assert len(ours) == len(gdal) == 3 and ours[0].dtype == np.dtype(dtype)
    for a, b in zip(ours, gdal, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
