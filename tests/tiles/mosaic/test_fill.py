"""The hole-filling mosaic: valid pixels bit for bit, the record, skipped tiles, no seams."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import OutputExistsError
from geo_pix2pix.tiles.holes.plan import FILLED, KEPT, NODATA, TOO_LARGE, plan_holes, read_validity
from geo_pix2pix.tiles.mosaic.fill import RECORD_COLORS, fill_raster
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig
from tests.conftest import smooth_image, write_raster


def _stats(dtype: str, bands: int, low: float, high: float) -> BandStats:
    return BandStats(dtype, (low,) * bands, (high,) * bands, "percentile")


class Noise:
    """A predict function painting noise (values far from any interpolation), counting its tiles."""

    def __init__(self) -> None:
        self.tiles = 0
        self.rng = np.random.default_rng(0)

    def __call__(self, x: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        assert unknown.dtype == bool and unknown.shape == (x.shape[0], 1, *x.shape[2:]) and unknown.any()
        self.tiles += len(x)
        return self.rng.uniform(-1, 1, x.shape).astype(np.float32)


def _fill(tmp_path, src, stats, predict, holes=None, max_hole=1e9, tile=64, overlap=16, **kw):
    with rasterio.open(src) as s:
        bands = tuple(range(1, s.count + 1))
        valid = read_validity(s, bands)
    plan = plan_holes(valid, holes, max_hole)
    cfg = MosaicConfig(bands, stats, stats, tile, overlap, 4)
    return fill_raster(src, tmp_path / "out.tif", tmp_path / "out.filled.tif", predict, cfg, plan, **kw)


@pytest.mark.parametrize("dtype,nodata", [("uint8", 0), ("uint16", 0), ("float32", float("nan"))])
def test_valid_pixels_come_out_bit_for_bit(tmp_path, dtype, nodata) -> None:
    data = smooth_image(150, 170, 3, seed=1, dtype=dtype)
    if dtype != "float32":
        data = np.maximum(data, 1).astype(dtype)  # no valid pixel equals the nodata value
    data[:, 40:60, 30:90] = nodata
    data[:, 100:103, :] = nodata  # a stripe across every tile column
    src = write_raster(tmp_path / "in.tif", data, nodata=nodata)
    high = 255.0 if dtype == "uint8" else float(np.nanmax(data))
    res = _fill(tmp_path, src, _stats(dtype, 3, 0.0, high), Noise())
    with rasterio.open(src) as a, rasterio.open(res.path) as b:
        inp, out = a.read(), b.read()
        assert (b.crs, b.transform, b.dtypes, b.count) == (a.crs, a.transform, a.dtypes, a.count)
        assert (b.nodata == a.nodata) or (np.isnan(b.nodata) and np.isnan(a.nodata))
    hole = np.isnan(inp[0]) if dtype == "float32" else inp[0] == nodata
    assert hole.sum() == 20 * 60 + 3 * 170
    assert np.array_equal(out[:, ~hole], inp[:, ~hole])  # bit for bit (NaN-free there)
    assert np.isfinite(out[:, hole].astype(np.float64)).all()
    if dtype != "float32":
        assert (out[:, hole] != nodata).all()  # a painted pixel never reads as nodata
    assert out[:, hole].std() > 0  # painted, not copied


def test_the_records_kept_pixels_are_transparent_for_gdal(tmp_path) -> None:
    """Over the image in QGIS, kept pixels must let it show: a TIFF palette has no alpha, so the
    record's sidecar carries the colour table (kept alpha 0) and the states' names (issue 30)."""
    from geo_pix2pix.tiles.encoding.categories import read_categories

    src = write_raster(tmp_path / "in.tif", smooth_image(96, 96, 3, seed=2))
    holes = np.zeros((96, 96), bool)
    holes[10:20, 10:20] = True
    res = _fill(tmp_path, src, _stats("uint8", 3, 0, 255), Noise(), holes=holes, max_hole=8)
    with rasterio.open(res.record) as r:
        cmap = r.colormap(1)
    assert cmap[KEPT][3] == 0 and cmap[FILLED] == RECORD_COLORS[FILLED] and len(cmap) == 4
    assert read_categories(res.record)[KEPT].startswith("kept") and read_categories(res.record)[FILLED]
    assert not (tmp_path / "out.tif.aux.xml").exists()  # the filled raster holds values: nothing to name


def test_the_record_says_what_was_painted(tmp_path) -> None:
    data = smooth_image(128, 128, 3, seed=2)
    src = write_raster(tmp_path / "in.tif", data)  # no nodata: holes come from a mask
    holes = np.zeros((128, 128), bool)
    holes[10:20, 10:20] = True  # small: filled
    holes[60:128, 40:128] = True  # radius > 8: too large
    res = _fill(tmp_path, src, _stats("uint8", 3, 0, 255), Noise(), holes=holes, max_hole=8)
    with rasterio.open(res.record) as r, rasterio.open(res.path) as o:
        state = r.read(1)
        assert r.colormap(1)[FILLED] == RECORD_COLORS[FILLED]
        assert r.tags(1)[f"CLASS_{TOO_LARGE}"].startswith("hole too large")
        out, mask = o.read(), o.dataset_mask()
    assert (state[10:20, 10:20] == FILLED).all() and (state[60:, 40:] == TOO_LARGE).all()
    assert ((state == KEPT) == ~holes).all()
    assert np.array_equal(out[:, state == KEPT], data[:, state == KEPT])
    assert (out[:, state == FILLED] != data[:, state == FILLED]).any()
    assert (mask[state == TOO_LARGE] == 0).all() and (mask[state != TOO_LARGE] == 255).all()
    assert res.plan.too_large == 1 and res.plan.unfilled_pixels == 68 * 88


def test_input_nodata_outside_given_holes_stays_nodata(tmp_path) -> None:
    data = smooth_image(96, 96, 1, seed=3, dtype="uint16")
    data = np.maximum(data, 1)
    data[:, :, :5] = 0  # a nodata collar
    src = write_raster(tmp_path / "in.tif", data, nodata=0)
    holes = np.zeros((96, 96), bool)
    holes[40:44, 20:60] = True
    res = _fill(tmp_path, src, _stats("uint16", 1, 0, 5000), Noise(), holes=holes)
    with rasterio.open(res.path) as o, rasterio.open(res.record) as r:
        out, state = o.read(1), r.read(1)
    assert (state[:, :5] == NODATA).all() and (out[:, :5] == 0).all()
    assert (out[40:44, 20:60] != data[0, 40:44, 20:60]).any() and (out[40:44, 20:60] > 0).all()


def test_tiles_without_a_hole_are_not_run(tmp_path) -> None:
    data = np.maximum(smooth_image(256, 256, 3, seed=4), 1)
    data[:, 5:9, 5:9] = 0  # one small hole in the corner
    src = write_raster(tmp_path / "in.tif", data, nodata=0)
    predict = Noise()
    res = _fill(tmp_path, src, _stats("uint8", 3, 0, 255), predict, tile=64, overlap=16)
    assert predict.tiles == res.tiles_run == 1 and res.tiles == 36
    predict = Noise()
    data[:, ::48, ::48] = 0  # a hole in every tile
    src = write_raster(tmp_path / "in2.tif", data, nodata=0)
    res = _fill(tmp_path / "..", src, _stats("uint8", 3, 0, 255), predict, tile=64, overlap=16, overwrite=True)
    assert predict.tiles == res.tiles_run == res.tiles


def test_a_hole_across_tile_boundaries_is_blended_like_one_tile(tmp_path) -> None:
    """Each run tile paints every pixel with the same function of its raster position (a ramp), so
    any blend of them is that ramp: the fill of a hole spanning several tiles (the others skipped)
    must equal the fill by one tile covering the raster. A tile blended at the wrong place, a
    skipped tile that was needed or a weight error shows as a step along the tile boundaries."""
    from geo_pix2pix.tiles.mosaic.blend import plan_mosaic

    data = np.maximum(smooth_image(192, 192, 1, seed=5), 1)
    data[:, 50:140, 60:150] = 0
    data[:, 180:183, 5:8] = 0  # a second, small hole: most tiles hold neither
    src = write_raster(tmp_path / "in.tif", data, nodata=0)
    state = plan_holes(data[0] > 0, None, 1e9).state

    def ramp(tile: int, overlap: int):
        plan = plan_mosaic(192, 192, tile, overlap)
        order = []
        for k, r in enumerate(plan.row_starts):
            tiles = plan.tile_row(k, lambda lo, hi: state[None, lo:hi])
            order += [(r, c) for c, t in zip(plan.col_starts, tiles, strict=True) if (t == FILLED).any()]
        calls = iter(order)

        def predict(x: np.ndarray, unknown: np.ndarray) -> np.ndarray:
            out = []
            for _ in x:
                r, c = next(calls)
                yy, xx = np.mgrid[r - plan.pad_top:r - plan.pad_top + tile, c - plan.pad_left:c - plan.pad_left + tile]
                out.append(((yy + xx) / 400.0 - 0.5).astype(np.float32)[None])
            return np.stack(out)
        return predict

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = _fill(tmp_path / "a", src, _stats("uint8", 1, 0, 255), ramp(256, 0), tile=256, overlap=0)
    tiled = _fill(tmp_path / "b", src, _stats("uint8", 1, 0, 255), ramp(64, 16), tile=64, overlap=16)
    with rasterio.open(whole.path) as a, rasterio.open(tiled.path) as b:
        one, many = a.read(1).astype(int), b.read(1).astype(int)
    assert whole.tiles_run == 1 and 4 < tiled.tiles_run < tiled.tiles
    assert np.abs(one - many).max() <= 1
    assert one[100, 100] != one[60, 145]  # the ramp is there


def test_existing_outputs_are_kept_without_overwrite(tmp_path) -> None:
    data = smooth_image(64, 64, 1, seed=6)
    data[:, 10:12, 10:12] = 0
    src = write_raster(tmp_path / "in.tif", data, nodata=0)
    (tmp_path / "out.filled.tif").write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        _fill(tmp_path, src, _stats("uint8", 1, 0, 255), Noise(), tile=64)
    assert (tmp_path / "out.filled.tif").read_bytes() == b"precious" and not (tmp_path / "out.tif").exists()


def test_a_pixel_missing_in_one_band_keeps_the_others(tmp_path) -> None:
    data = np.maximum(smooth_image(64, 64, 2, seed=7, dtype="float32"), 0.01)
    data[1, 20, 30] = np.nan  # band 2 only
    src = write_raster(tmp_path / "in.tif", data)
    res = _fill(tmp_path, src, _stats("float32", 2, 0.0, 1.0), Noise())
    with rasterio.open(res.path) as o:
        out = o.read()
    assert res.plan.filled_pixels == 1
    assert out[0, 20, 30] == data[0, 20, 30] and np.isfinite(out[1, 20, 30])
