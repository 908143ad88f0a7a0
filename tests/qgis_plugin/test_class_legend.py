"""What QGIS 3.22 shows of geopix's class rasters (issue 30): the classes by name in the paletted
legend, only the classes (geopix's default style ``<stem>.qml``), the inpainting record's kept pixels transparent.

QGIS reads class names through GDAL's category names, which GDAL keeps for a GeoTIFF only in the
PAM sidecar geopix writes beside it; PAM is on here, as in a user's QGIS (the plugin's tests turn
it off to keep the repository's samples free of statistics files).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable
from tests.conftest import smooth_image, write_raster
from tests.qgis_plugin.conftest import SYSTEM_PYTHON, need_qgis, qgis_env
from tests.tiles.encoding.test_categories import _class_output
from tests.tiles.mosaic.test_fill import Noise, _fill, _stats

DRIVER = Path(__file__).with_name("legend_driver.py")


def _qgis_sees(tmp_path: Path, *rasters: Path) -> dict:
    need_qgis()
    out = tmp_path / "legend.json"
    env = {**qgis_env(tmp_path), "GDAL_PAM_ENABLED": "YES"}
    r = subprocess.run([SYSTEM_PYTHON, str(DRIVER), str(out), *map(str, rasters)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0 and out.exists(), f"PyQGIS failed ({r.returncode}):\n{r.stderr[-3000:]}"
    return json.loads(out.read_text())


def test_class_names_reach_the_paletted_legend(tmp_path) -> None:
    three = _class_output(tmp_path, ClassTable.build([1, 2, 3], {1: "water", 2: "trees", 3: "buildings"}), "t.tif")
    roads = _class_output(tmp_path, ClassTable.build([0, 255], {0: "background", 255: "roads"}), "r.tif")
    seen = _qgis_sees(tmp_path, three, roads)
    t, r = seen[str(three)], seen[str(roads)]
    # the legend is the classes alone (the default style geopix writes beside the raster), while
    # GDAL's colour table runs 0..max: without the style QGIS 3.22 listed code 0 here, and 256 items for a mask
    assert t["renderer"] == "paletted" and t["legend"] == ["water", "trees", "buildings"]
    assert all(c[3] == 255 for c in t["classes"])
    assert t["gdal_categories"] == ["", "water", "trees", "buildings"] and t["gdal_rat_rows"] == 3
    assert r["legend"] == ["background", "roads"] and [c[0] for c in r["classes"]] == [0, 255]


def test_without_geopixs_style_qgis_lists_every_code_up_to_the_highest(tmp_path) -> None:
    """The GDAL limit the style works around (a user who deletes the .qml sees this)."""
    roads = _class_output(tmp_path, ClassTable.build([0, 255], {0: "background", 255: "roads"}), "r.tif")
    roads.with_suffix(".qml").unlink()
    r = _qgis_sees(tmp_path, roads)[str(roads)]
    assert len(r["classes"]) == 256
    assert (r["legend"][0], r["legend"][1], r["legend"][255]) == ("background", "1", "roads")
    assert sum(c[3] > 0 for c in r["classes"]) == 2


def test_the_inpainting_records_kept_class_is_transparent_in_qgis(tmp_path) -> None:
    src = write_raster(tmp_path / "in.tif", smooth_image(96, 96, 3, seed=2))
    holes = np.zeros((96, 96), bool)
    holes[10:20, 10:20] = True
    res = _fill(tmp_path, src, _stats("uint8", 3, 0, 255), Noise(), holes=holes, max_hole=8)
    rec = _qgis_sees(tmp_path, res.record)[str(res.record)]
    assert rec["renderer"] == "paletted" and len(rec["classes"]) == 4
    kept, filled = rec["classes"][0], rec["classes"][1]
    assert kept[1].startswith("kept") and kept[3] == 0 and filled[1] == "filled by geopix" and filled[3] == 255
