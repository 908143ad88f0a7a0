"""Measured values in and out: the whole range reachable, float32 in the map's units, nodata on the band."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import smooth_image, write_raster


@pytest.fixture(scope="module")
def dem_pair(tmp_path_factory):
    """RGB imagery and an elevation raster (float32 metres, nodata -9999 in a corner) derived from it."""
    d = tmp_path_factory.mktemp("dem")
    img = smooth_image(192, 192, 3, seed=41)
    dem = (1000.0 + 10.0 * img[0].astype(np.float32))[None]
    dem[:, :20, :20] = -9999
    sat = write_raster(d / "sat.tif", img)
    mp = write_raster(d / "dem.tif", dem, nodata=-9999)
    with rasterio.open(mp, "r+") as ds:
        ds.units = ("metre",)
    return d, sat, mp, dem


@pytest.fixture(scope="module")
def dem_model(dem_pair):
    from geo_pix2pix.cli.main import main

    d, sat, mp, _ = dem_pair
    try:
        main(["-q", "train", "--imagery", str(sat), "--maps", str(mp), "--out", str(d / "run"), "--tile-size", "64",
              "--ngf", "8", "--ndf", "8", "--steps", "40", "--lr", "0.002", "--val-fraction", "0.2", "--device", "cpu"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return d / "run"


def test_a_float_map_is_continuous_and_its_range_reaches_past_the_percentiles(dem_pair, dem_model) -> None:
    from geo_pix2pix.files.modelfile import read_meta

    _, _, _, dem = dem_pair
    meta = read_meta(dem_model)
    valid = dem[dem != -9999]
    p2, p98 = np.percentile(valid, [2, 98])
    out = meta.output_stats
    assert meta.map_kind == "continuous" and out.method == "robust" and out.dtype == "float32"
    assert out.nodata == -9999 and out.units == "metre"
    # the network's [-1, 1] reaches half the percentile range beyond each end
    assert out.low[0] < p2 - 0.4 * (p98 - p2) and out.high[0] > p98 + 0.4 * (p98 - p2)
    top = out.denormalize(np.ones((1, 1, 1), np.float32))
    assert top[0, 0, 0] > valid.max()


def test_translate_writes_float32_metres_with_nodata_on_the_band(dem_pair, dem_model, tmp_path, geopix) -> None:
    region = write_raster(tmp_path / "region.tif", smooth_image(120, 140, 3, seed=41))
    with rasterio.open(region, "r+") as ds:
        m = np.full((120, 140), 255, np.uint8)
        m[:10, :] = 0
        ds.write_mask(m)
    out = tmp_path / "dem_out.tif"
    r = geopix("-q", "translate", region, out, "--model", dem_model)
    assert r.code == 0, r.err
    with rasterio.open(out) as o:
        assert o.dtypes[0] == "float32" and o.nodata == -9999 and o.units == ("metre",)
        a = o.read(1)
        assert (a[:10] == -9999).all() and (a[10:] != -9999).all() and np.isfinite(a).all()
        assert o.tags()["GEOPIX_MAP_KIND"] == "continuous"
    out16 = tmp_path / "dem16.tif"
    r = geopix("-q", "translate", region, out16, "--model", dem_model, "--output-dtype", "uint16")
    assert r.code == 0, r.err
    with rasterio.open(out16) as o, rasterio.open(out) as f:
        assert o.dtypes[0] == "uint16" and o.nodata == 65535
        np.testing.assert_array_equal(o.read(1)[10:], np.rint(f.read(1)[10:]).astype(np.uint16))
        assert (o.read(1)[:10] == 65535).all()


def test_evaluate_reports_errors_in_the_maps_units(dem_pair, dem_model, geopix) -> None:
    _, sat, mp, _ = dem_pair
    r = geopix("evaluate", "--model", dem_model, "--imagery", sat, "--maps", mp, "--json")
    assert r.code == 0, r.err
    v = json.loads(r.out)["values"]
    assert v["pixels"] > 0 and v["RMSE"] >= v["MAE"] > 0 and abs(v["bias"]) <= v["MAE"]
    assert sum(b["pixels"] for b in v["bands"]) == v["pixels"]
    r = geopix("evaluate", "--model", dem_model, "--imagery", sat, "--maps", mp)
    first = r.out.splitlines()[0]  # leads with the errors in metres, not normalised scores (issue 30)
    assert f"MAE {v['MAE']:.4g} metre  RMSE {v['RMSE']:.4g} metre" in first and "accuracy" not in r.out
    assert r.out.splitlines()[-1].startswith("normalised: L1")


def test_extra_region_bands_are_refused_unless_named(dem_model, tmp_path, geopix) -> None:
    rgbn = write_raster(tmp_path / "rgbn.tif", smooth_image(96, 96, 4, seed=41))
    r = geopix("translate", rgbn, tmp_path / "o.tif", "--model", dem_model)
    assert r.code == 1 and "has 4 bands but the model was trained on 3-band input" in r.err and "--bands" in r.err
    r = geopix("-q", "translate", rgbn, tmp_path / "o.tif", "--model", dem_model, "--bands", "3,2,1")
    assert r.code == 0, r.err
    r = geopix("translate", rgbn, tmp_path / "p.tif", "--model", dem_model, "--bands", "1,2")
    assert r.code == 1 and "--bands names 2 band(s) but the model reads 3" in r.err


def test_the_training_summary_of_a_value_map_leads_with_its_units(dem_model) -> None:
    from geo_pix2pix.cli.train import _validation_summary
    from geo_pix2pix.evaluation.metrics import ImageMetrics
    from geo_pix2pix.files.modelfile import read_meta

    stats = read_meta(dem_model).output_stats
    line = _validation_summary(ImageMetrics(0.1, 20.0, 0.5, 0.3, 4), dem_model)
    assert line.startswith(f"MAE {0.1 * (stats.high[0] - stats.low[0]):.4g} metre, L1 0.1000"), line


def test_the_training_summary_s_mae_is_evaluate_s_on_the_same_windows(dem_pair, dem_model, geopix) -> None:
    """L1 is measured on [0, 1] images, so the summary's MAE is L1 x (high - low): evaluate's MAE,
    in the map's units, on the same validation windows (up to the rounding of integer values)."""
    from geo_pix2pix.cli.train import _validation_summary
    from geo_pix2pix.evaluation.metrics import ImageMetrics

    _, sat, mp, _ = dem_pair
    ev = json.loads(geopix("evaluate", "--model", dem_model, "--imagery", sat, "--maps", mp, "--windows", "val",
                           "--json").out)
    line = _validation_summary(ImageMetrics(ev["L1"], ev["PSNR"], ev["SSIM"], ev["pixel_accuracy"], 1), dem_model)
    mae = float(line.split()[1])
    assert abs(mae - ev["values"]["MAE"]) <= 0.02 * ev["values"]["MAE"] + 1, (line, ev["values"])



@pytest.mark.parametrize("accuracy,verdict", [(0.9760, "level with"), (0.9759, "level with"),
                                              (0.9900, "above"), (0.9500, "below")])
def test_a_class_summary_equal_to_its_baseline_as_shown_says_so(accuracy, verdict) -> None:
    """A model that draws background everywhere (the roads mask after a short run: 97.6% against
    97.6%) was reported 'above' its baseline."""
    from geo_pix2pix.cli.train import _validation_summary
    from geo_pix2pix.evaluation.metrics import ImageMetrics

    v = ImageMetrics(float("nan"), 0.0, 0.0, accuracy, 1, majority=("background", 0.9760))
    expected = f"accuracy {accuracy:.1%}, {verdict} the 97.6% of a map of 'background' everywhere"
    assert _validation_summary(v, Path("unused")) == expected
