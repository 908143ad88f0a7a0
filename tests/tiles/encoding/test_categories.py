"""Class names for GDAL and QGIS: the PAM sidecar written and read back, uint8 kept for a 0/255 mask."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from geo_pix2pix.tiles.encoding.categories import pam_xml, read_categories, sidecar_path
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, mosaic_raster
from tests.conftest import smooth_image, write_raster


@pytest.mark.parametrize("codes,nodata,dtype,expected", [
    ([0, 255], None, "uint8", 254),            # a 0/255 road mask: uint8, the highest free code
    ([0, 1, 2], None, "uint8", 255),           # 255 free: 255, as before
    ([0, 255], 7, "uint8", 7),                 # the map's own nodata where it is free
    (list(range(256)), None, "uint16", 65535),  # every byte code a class: no room for nodata
    ([1, 300], None, "uint16", 65535),
    ([*range(255), 255], 254, "uint16", 65535),  # the map's nodata is a class code: not usable
])
def test_nodata_is_a_free_code_of_the_narrowest_type(codes, nodata, dtype, expected) -> None:
    t = ClassTable.build(codes, nodata=nodata)
    assert (t.dtype, t.nodata) == (dtype, expected)


def test_old_tables_keep_their_recorded_dtype_and_nodata() -> None:
    """A model file written before this rule recorded uint16/65535 for its 0/255 mask: it keeps them."""
    old = {"kind": "categorical", "dtype": "uint16", "nodata": 65535,
           "classes": [{"code": 0, "name": "class 0", "color": [0, 0, 0, 255]},
                       {"code": 255, "name": "class 255", "color": [255, 255, 255, 255]}]}
    t = ClassTable.from_dict(old)
    assert (t.dtype, t.nodata) == ("uint16", 65535)
    assert t.denormalize(np.array([[[0.9]], [[0.1]]], np.float32)).dtype == np.uint16


def test_sidecar_names_colours_and_rat_read_back(tmp_path) -> None:
    classes = [(0, "background", (0, 0, 0, 255)), (3, "roads", (255, 0, 0, 128))]
    raster = write_raster(tmp_path / "m.tif", np.zeros((1, 8, 8), np.uint8), nodata=255)
    sidecar_path(raster).write_text(pam_xml(classes))
    assert read_categories(raster) == {0: "background", 3: "roads"}
    with rasterio.open(raster) as src:  # GDAL applies the sidecar: its colour table, alpha included
        cmap = src.colormap(1)
    assert len(cmap) == 4 and cmap[3] == (255, 0, 0, 128) and cmap[1] == (0, 0, 0, 0)


def test_names_from_a_rat_alone_and_no_sidecar(tmp_path) -> None:
    raster = write_raster(tmp_path / "m.tif", np.zeros((1, 8, 8), np.uint8))
    assert read_categories(raster) == {}
    sidecar_path(raster).write_text(
        '<PAMDataset><PAMRasterBand band="1"><GDALRasterAttributeTable tableType="thematic">'
        '<FieldDefn index="0"><Name>VALUE</Name><Type>0</Type><Usage>0</Usage></FieldDefn>'
        '<FieldDefn index="1"><Name>Class_Name</Name><Type>2</Type><Usage>0</Usage></FieldDefn>'
        '<Row index="0"><F>11</F><F>water</F></Row><Row index="1"><F>42</F><F>forest</F></Row>'
        '</GDALRasterAttributeTable></PAMRasterBand></PAMDataset>')
    assert read_categories(raster) == {11: "water", 42: "forest"}
    sidecar_path(raster).write_text("<PAMDataset><broken")
    assert read_categories(raster) == {}


def _class_output(tmp_path, table: ClassTable, name: str, overwrite: bool = False):
    src = write_raster(tmp_path / "in.tif", smooth_image(64, 96, 1, seed=3))
    k = table.bands

    # class index by brightness: every class appears
    def predict(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        idx = np.clip(((x[:, 0] + 1) * 0.5 * k).astype(int), 0, k - 1)
        return (np.eye(k, dtype=np.float32)[idx].transpose(0, 3, 1, 2) * 2 - 1)

    cfg = MosaicConfig(bands=(1,), in_stats=BandStats("uint8", (0.0,), (255.0,)), out_stats=table, tile=32,
                       overlap=8, batch_size=4, tags={"GEOPIX_MODEL": "test"})
    out = tmp_path / name
    mosaic_raster(src, out, predict, cfg, overwrite=overwrite)
    return out


def test_a_0_255_mask_output_stays_uint8_with_its_names(tmp_path) -> None:
    table = ClassTable.build([0, 255], {0: "background", 255: "roads"}, {0: (0, 0, 0), 255: (255, 255, 255)})
    out = _class_output(tmp_path, table, "roads.tif")
    with rasterio.open(out) as o:
        assert (o.dtypes[0], o.nodata) == ("uint8", 254)
        assert set(np.unique(o.read(1)).tolist()) == {0, 255}
        cmap = o.colormap(1)  # the sidecar's table: up to the highest code, unused codes transparent
        assert cmap[255] == (255, 255, 255, 255) and cmap[128] == (0, 0, 0, 0) and len(cmap) == 256
        assert json.loads(o.tags()["GEOPIX_CLASSES"])[1]["name"] == "roads"
    assert read_categories(out) == {0: "background", 255: "roads"}


def test_a_table_of_all_256_codes_widens(tmp_path) -> None:
    table = ClassTable.build(list(range(256)))
    out = _class_output(tmp_path, table, "all.tif")
    with rasterio.open(out) as o:
        assert (o.dtypes[0], o.nodata) == ("uint16", 65535) and len(o.colormap(1)) == 256
    assert len(read_categories(out)) == 256


def test_a_short_table_lists_only_its_codes_and_a_replaced_output_loses_its_sidecar(tmp_path) -> None:
    table = ClassTable.build([1, 2, 3], {1: "water", 2: "trees", 3: "buildings"})
    out = _class_output(tmp_path, table, "three.tif")
    with rasterio.open(out) as o:
        assert len(o.colormap(1)) == 4  # codes 0..3, 0 transparent: a legend of the classes, not of 256 codes
    assert read_categories(out) == {1: "water", 2: "trees", 3: "buildings"}
    src = write_raster(tmp_path / "in3.tif", smooth_image(64, 96, 3, seed=3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=BandStats("uint8", (0.0,) * 3, (255.0,) * 3),
                       out_stats=BandStats("uint8", (0.0,) * 3, (255.0,) * 3), tile=32, overlap=8)
    mosaic_raster(src, out, lambda x, valid=None: x.copy(), cfg, overwrite=True)  # a picture now: no classes to name
    assert not sidecar_path(out).exists()


def test_merged_shards_of_a_class_output_carry_the_names(tmp_path) -> None:
    from geo_pix2pix.tiles.mosaic.merge import merge_parts
    from geo_pix2pix.tiles.mosaic.shard import Shard

    table = ClassTable.build([0, 255], {0: "background", 255: "roads"})
    src = write_raster(tmp_path / "in.tif", smooth_image(96, 96, 1, seed=3))
    cfg = MosaicConfig(bands=(1,), in_stats=BandStats("uint8", (0.0,), (255.0,)), out_stats=table, tile=32,
                       overlap=8, batch_size=4)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(2):
        mosaic_raster(src, parts / f"p{i}.tif", lambda x, valid=None: np.concatenate([-x, x], 1), cfg,
                      shard=Shard(i, 2), job="j")
    assert not list(parts.glob("*.aux.xml"))  # parts are no deliverable: only the merged raster is named
    merge_parts(tmp_path / "merged.tif", [parts])
    with rasterio.open(tmp_path / "merged.tif") as o:
        assert (o.dtypes[0], o.nodata) == ("uint8", 254)
    assert read_categories(tmp_path / "merged.tif") == {0: "background", 255: "roads"}


def test_the_default_style_lists_only_the_classes_and_leaves_a_users_style_alone(tmp_path) -> None:
    import xml.etree.ElementTree as ET

    from geo_pix2pix.tiles.encoding.categories import QML_MARK, qml_path

    table = ClassTable.build([0, 255], {0: "background", 255: "roads"}, {0: (0, 0, 0), 255: (255, 255, 255)})
    out = _class_output(tmp_path, table, "roads.tif")
    style = qml_path(out)
    assert style == tmp_path / "roads.qml" and style.read_text().startswith(QML_MARK)
    entries = ET.fromstring(style.read_text().split("\n", 2)[2]).findall(".//colorPalette/paletteEntry")
    assert [(e.get("value"), e.get("label"), e.get("color"), e.get("alpha")) for e in entries] == [
        ("0", "background", "#000000", "255"), ("255", "roads", "#ffffff", "255")]
    style.write_text("<qgis>the user's own style</qgis>")  # replaced neither by a new class output ...
    _class_output(tmp_path, table, "roads.tif", overwrite=True)
    assert style.read_text() == "<qgis>the user's own style</qgis>"
    src = write_raster(tmp_path / "in3.tif", smooth_image(64, 96, 3, seed=3))
    cfg = MosaicConfig(bands=(1, 2, 3), in_stats=BandStats("uint8", (0.0,) * 3, (255.0,) * 3),
                       out_stats=BandStats("uint8", (0.0,) * 3, (255.0,) * 3), tile=32, overlap=8)
    mosaic_raster(src, out, lambda x, valid=None: x.copy(), cfg, overwrite=True)
    assert style.exists()  # ... nor removed by a picture written over the output
    style.unlink()
    _class_output(tmp_path, table, "roads.tif", overwrite=True)
    mosaic_raster(src, out, lambda x, valid=None: x.copy(), cfg, overwrite=True)
    assert not style.exists() and not sidecar_path(out).exists()  # geopix's own style goes with its classes
