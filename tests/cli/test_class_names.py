"""Classes named in GDAL train models whose outputs QGIS can name (issue 30): a 0/255 mask stays
uint8, the map's category names become the model's class names (a class table wins), and
``geopix info`` shows an output's classes and provenance tags."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from geo_pix2pix.tiles.encoding.categories import pam_xml, read_categories, sidecar_path
from tests.conftest import smooth_image, write_raster


@pytest.fixture(scope="module")
def road_pair(tmp_path_factory):
    """Imagery and a 0/255 uint8 road mask without nodata whose sidecar names its two codes."""
    d = tmp_path_factory.mktemp("roads")
    img = smooth_image(128, 128, 3, seed=5)
    mask = np.where(img[0] > 150, 255, 0).astype(np.uint8)[None]
    sat, mp = write_raster(d / "sat.tif", img), write_raster(d / "roads.tif", mask)
    sidecar_path(mp).write_text(pam_xml([(0, "background", (0, 0, 0, 255)), (255, "roads", (255, 255, 255, 255))]))
    return d, sat, mp


def _train(geopix, d, sat, mp, name, *extra):
    r = geopix("train", "--imagery", sat, "--maps", mp, "--out", d / name, "--tile-size", "64", "--ngf", "8",
               "--ndf", "8", "--steps", "2", "--val-fraction", "0", "--device", "cpu", *extra)
    assert r.code == 0, r.err
    return d / name


def test_a_named_0_255_mask_gives_named_uint8_outputs(road_pair, geopix) -> None:
    d, sat, mp = road_pair
    from geo_pix2pix.files.modelfile import read_meta

    run = _train(geopix, d, sat, mp, "run")
    table = read_meta(run / "model.safetensors").output_stats
    assert table.names == ("background", "roads") and (table.dtype, table.nodata) == ("uint8", 254)
    out = d / "pred.tif"
    assert geopix("-q", "translate", sat, out, "--model", run).code == 0
    with rasterio.open(out) as o:
        assert (o.dtypes[0], o.nodata) == ("uint8", 254) and len(o.colormap(1)) == 256  # not 65,536
    assert read_categories(out) == {0: "background", 255: "roads"}
    r = geopix("info", out)
    assert r.code == 0 and "classes:     0 background" in r.out and "255 roads" in r.out
    assert "geopix:      GEOPIX_" in r.out and "GEOPIX_MODEL=" in r.out and "GEOPIX_MAP_KIND=categorical" in r.out
    info = json.loads(geopix("info", out, "--json").out)
    assert info["geopix_tags"]["GEOPIX_MAP_KIND"] == "categorical" and info["classes"][1] == [255, "roads"]


def test_a_class_table_wins_over_the_maps_names(road_pair, tmp_path, geopix) -> None:
    d, sat, mp = road_pair
    from geo_pix2pix.files.modelfile import read_meta

    listed = tmp_path / "classes.csv"
    listed.write_text("code,name\n0,land\n255,road network\n")
    run = _train(geopix, tmp_path, sat, mp, "run", "--class-table", listed)
    assert read_meta(run / "model.safetensors").output_stats.names == ("land", "road network")
