"""QGIS is the real client: the translated COG opens as a valid layer and renders."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import REPO, real

SYSTEM_PYTHON = "/usr/bin/python3"


def _has_pyqgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return r.returncode == 0


def test_qgis_opens_and_renders_the_translated_raster(tmp_path, geopix) -> None:
    if not _has_pyqgis():
        if os.environ.get("CI"):
            pytest.fail("PyQGIS missing in CI: .ci/run installs qgis and python3-qgis")
        pytest.skip("PyQGIS not installed (apt-get install qgis python3-qgis)")
    from geo_pix2pix.tiles.encoding.normalize import BandStats
    from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster

    src = real("geotiff/rasterio/RGB.byte.tif")
    u8 = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
    out = tmp_path / "map.tif"
    # The output path of translate, with an identity "model" so the picture is known.
    mosaic_raster(src, out, lambda x, valid=None: x.copy(), MosaicConfig((1, 2, 3), u8, u8, 128, 32))
    png = tmp_path / "render.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([SYSTEM_PYTHON, str(REPO / "tests" / "qgis_render.py"), str(out), str(png)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    facts = json.loads(r.stdout.strip().splitlines()[-1])
    with rasterio.open(out) as ds:
        b = ds.bounds
        # QGIS shows the internal nodata mask as a 4th, alpha band and renders through it.
        assert facts["valid"] and facts["crs"] == "EPSG:32618" and facts["bands"] == 4
        assert facts["colorinterp"] == ["Red", "Green", "Blue", "Alpha"] and facts["alpha_band"] == 4
        assert (facts["width"], facts["height"]) == (ds.width, ds.height)
        np.testing.assert_allclose(facts["extent"], [b.left, b.bottom, b.right, b.top], rtol=0, atol=1e-6)
    assert facts["renderer"] == "multibandcolor"  # RGB at once, no styling needed
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.std() > 10  # a picture, not a blank canvas
    assert (img[2, 2] == 255).all()  # the nodata corner is transparent over the white background
