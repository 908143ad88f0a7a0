"""Seams: the metric itself, and a model trained on real data translated without visible seams."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from geo_pix2pix.evaluation.metrics import seam_ratio
from geo_pix2pix.tiles.mosaic.blend import plan_mosaic
from tests.conftest import EXAMPLES, write_raster


def test_seam_ratio_sees_steps_at_tile_boundaries() -> None:
    rng = np.random.default_rng(0)
    smooth = rng.normal(size=(1, 300, 300)).cumsum(axis=1).cumsum(axis=2) / 50
    assert seam_ratio(smooth, 64, 16) == pytest.approx((1.0, 1.0), abs=0.3)
    stepped = smooth.copy()
    plan = plan_mosaic(300, 300, 64, 0)
    for c in plan.col_starts[1:]:
        stepped[:, :, c:] += 5.0  # a jump at every tile boundary
    cols, rows = seam_ratio(stepped, 64, 0)
    assert cols > 2.0 and rows == pytest.approx(seam_ratio(smooth, 64, 0)[1])


@pytest.mark.slow
def test_translation_by_a_model_trained_on_real_data_has_no_seams(tmp_path, geopix) -> None:
    run = tmp_path / "run"
    r = geopix("-q", "train", "--imagery", EXAMPLES / "houston_sat.tif", "--maps", EXAMPLES / "houston_map.tif",
               "--out", run, "--tile-size", "64", "--ngf", "16", "--ndf", "16", "--batch-size", "4",
               "--steps", "200", "--val-fraction", "0", "--workers", "0", "--device", "cpu")
    assert r.code == 0, r.err
    with rasterio.open(EXAMPLES / "charlotte_sat.tif") as a, rasterio.open(EXAMPLES / "houston_sat.tif") as b:
        region = np.concatenate([a.read(), b.read()], axis=2)  # 512 x 1024 of real imagery
        crs, tr = a.crs, a.transform
    src = write_raster(tmp_path / "region.tif", region, crs=crs, transform=tr)
    ratios = {}
    for overlap in ("16", "0"):
        out = tmp_path / f"o{overlap}.tif"
        assert geopix("-q", "translate", src, out, "--model", run, "--tile-size", "64", "--overlap", overlap).code == 0
        with rasterio.open(out) as o:
            ratios[overlap] = seam_ratio(o.read(), 64, int(overlap))
    print(f"seam ratio (columns, rows): overlap 16 {ratios['16']}, overlap 0 {ratios['0']}")
    # The model must be trained enough to make seams where tiles are cut hard (a model of 60 steps
    # made a texture so periodic that the metric saw none), else this test could not fail.
    assert min(ratios["0"]) > 1.2
    assert max(ratios["16"]) <= 1.05
