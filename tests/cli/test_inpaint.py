"""``geopix train --task inpaint`` and ``geopix inpaint`` on the real SpaceNet pan sample (uint16)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from tests.conftest import EXAMPLES, same_model, sha256, snapshot, train_resumed, write_raster

TINY = ["--tile-size", "64", "--ngf", "8", "--ndf", "8", "--batch-size", "2", "--val-fraction", "0",
        "--val-every", "100000", "--device", "cpu", "--no-amp"]


@pytest.fixture(scope="module")
def pan(tmp_path_factory) -> tuple:
    """A 256 x 256 crop of the SpaceNet 4 Atlanta pan sample (uint16, nodata 0), georeferenced."""
    d = tmp_path_factory.mktemp("pan")
    with rasterio.open(EXAMPLES / "atlanta_pan.tif") as src:
        w = Window(300, 300, 256, 256)
        data, transform, crs = src.read(window=w), src.window_transform(w), src.crs
    data = np.maximum(data, 1)
    return write_raster(d / "pan.tif", data, crs=crs.to_wkt(), transform=transform, nodata=0), data, d


@pytest.fixture(scope="module")
def model(pan, tmp_path_factory):
    from geo_pix2pix.cli.main import main

    run = tmp_path_factory.mktemp("inpaint") / "run"
    try:
        main(["-q", "train", "--task", "inpaint", "--imagery", str(pan[0]), "--out", str(run), *TINY, "--steps", "4"])
    except SystemExit as exc:
        assert not exc.code
    return run


def test_training_writes_an_inpainting_model(model, geopix) -> None:
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["task"] == "inpaint" and cfg["family"] == "inpaint"
    r = geopix("info", model)
    assert r.code == 0 and "family:      inpaint" in r.out and "task:        inpaint" in r.out


def test_filling_the_region_s_own_nodata(tmp_path, geopix, model, pan) -> None:
    src, data, _ = pan
    holed = data.copy()
    holed[:, 100:140, 60:220] = 0  # crosses tile boundaries of 64-px tiles
    region = write_raster(tmp_path / "holed.tif", holed, crs=rasterio.open(src).crs.to_wkt(),
                          transform=rasterio.open(src).transform, nodata=0)
    before = sha256(region)
    r = geopix("-q", "inpaint", region, tmp_path / "out.tif", "--model", model, "--tile-size", "64")
    assert r.code == 0, r.err
    assert sha256(region) == before
    with rasterio.open(region) as a, rasterio.open(tmp_path / "out.tif") as b, \
            rasterio.open(tmp_path / "out.filled.tif") as rec:
        assert (b.crs, b.transform, b.dtypes, b.count, b.nodata) == (a.crs, a.transform, a.dtypes, a.count, a.nodata)
        out, state = b.read(), rec.read(1)
    from rio_cogeo.cogeo import cog_validate

    assert cog_validate(str(tmp_path / "out.tif"))[0] and cog_validate(str(tmp_path / "out.filled.tif"))[0]
    hole = holed[0] == 0
    assert np.array_equal(out[:, ~hole], holed[:, ~hole])
    assert (out[:, hole] > 0).all() and ((state == 1) == hole).all()
    assert "filled" in r.out


def test_filling_polygons_given_in_another_crs(tmp_path, geopix, model, pan) -> None:
    import geopandas as gpd

    src, data, _ = pan
    gdf = gpd.read_file(EXAMPLES / "atlanta_buildings.geojson").to_crs("EPSG:4326")
    gdf.to_file(tmp_path / "clouds.gpkg")
    r = geopix("-q", "inpaint", src, tmp_path / "out.tif", "--model", model, "--holes", tmp_path / "clouds.gpkg",
               "--record", tmp_path / "painted.tif")
    assert r.code == 0, r.err
    with rasterio.open(tmp_path / "out.tif") as b, rasterio.open(tmp_path / "painted.tif") as rec:
        out, state = b.read(), rec.read(1)
    assert 0 < (state == 1).mean() < 0.5
    kept = state == 0
    assert np.array_equal(out[:, kept], data[:, kept])
    assert (out[:, state == 1] != data[:, state == 1]).any()  # buildings painted over


def test_a_hole_too_large_stays_nodata_with_a_warning(tmp_path, geopix, model, pan, caplog) -> None:
    import geo_pix2pix as geopix_api

    src, data, _ = pan
    mask = np.zeros(data.shape[1:], np.uint8)
    mask[20:40, 20:40] = 1
    mask[100:250, 100:250] = 1
    with rasterio.open(src) as s:
        holes = write_raster(tmp_path / "holes.tif", mask, crs=s.crs.to_wkt(), transform=s.transform)
    with caplog.at_level(logging.WARNING, logger="geo_pix2pix"):
        res = geopix_api.load_model(model, device="cpu").inpaint(src, tmp_path / "out.tif", holes=holes, max_hole=20)
    assert "too large to fill credibly" in caplog.text
    with rasterio.open(res.path) as b, rasterio.open(res.record) as rec:
        out, state = b.read(1), rec.read(1)
    assert (state[100:250, 100:250] == 2).all() and (out[100:250, 100:250] == 0).all()
    assert (state[20:40, 20:40] == 1).all() and (out[20:40, 20:40] > 0).all()
    assert res.plan.too_large == 1


def test_inpainting_and_translation_models_are_not_mixed_up(tmp_path, geopix, model, pan, tiny_model) -> None:
    src, _, d = pan
    r = geopix("translate", src, tmp_path / "t.tif", "--model", model)
    assert r.code == 1 and "inpainting model" in r.err and "Traceback" not in r.err
    r = geopix("inpaint", src, tmp_path / "i.tif", "--model", tiny_model)
    assert r.code == 1 and "--task inpaint" in r.err
    r = geopix("train", "--task", "inpaint", "--imagery", src, "--maps", src, "--out", tmp_path / "x")
    assert r.code == 2 and "imagery alone" in r.err
    r = geopix("train", "--task", "inpaint", "--family", "pix2pix", "--imagery", src, "--out", tmp_path / "y", *TINY)
    assert r.code == 1 and "inpaint family" in r.err


def test_existing_outputs_are_kept(tmp_path, geopix, model, pan) -> None:
    src = pan[0]
    (tmp_path / "out.tif").write_bytes(b"keep me")
    before = snapshot(tmp_path)
    r = geopix("inpaint", src, tmp_path / "out.tif", "--model", model)
    assert r.code == 1 and "--overwrite" in r.err and snapshot(tmp_path) == before


def test_resume_is_exact(tmp_path, geopix, pan) -> None:
    src = pan[0]
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["-q", "train", "--task", "inpaint", "--imagery", src, *TINY, "--steps", "4"]
    assert geopix(*common, "--out", a).code == 0
    assert same_model(a, train_resumed(geopix, common[2:], b, 2))


def test_evaluate_scores_against_fillnodata(tmp_path, geopix, model, pan) -> None:
    r = geopix("evaluate", "--model", model, "--imagery", pan[0], "--hole-sizes", "8", "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert {row["method"] for row in rows} == {"geopix", "gdal"} and all(row["pixels"] > 0 for row in rows)
    # the inpaint passes are counted from the start, over every size class (7 silent minutes, issue 30)
    r = geopix("--progress", "json", "evaluate", "--model", model, "--imagery", pan[0], "--hole-sizes", "8,16")
    assert r.code == 0, r.err
    records = [json.loads(line) for line in r.err.splitlines() if line.startswith("{")]
    assert records and records[0]["done"] == 0 and records[0]["phase"].startswith("evaluate (clouds holes")
    assert records[-1]["done"] == records[-1]["total"] == records[0]["total"] and records[0]["total"] % 2 == 0


def test_an_inpainting_model_does_not_predict_arrays(model) -> None:
    import geo_pix2pix as geopix_api

    m = geopix_api.load_model(model, device="cpu")
    with pytest.raises(geopix_api.GeopixError, match="Model.inpaint"):
        m.predict(np.ones((1, 64, 64), np.uint16))
