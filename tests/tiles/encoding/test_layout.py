"""Vector layers burnt into class layouts: classes, drawing order, CRS, fields, thin lines, refusals."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, box

from geo_pix2pix.tiles.encoding.layout import Grid, LayoutSpec, layout_classes, layout_table, write_layout
from geo_pix2pix.tiles.errors import GeopixError
from tests.conftest import real

UTM = "EPSG:32618"
#: 40 x 40 pixels of 10 m, origin (500000, 4200400)
GRID = Grid(rasterio.crs.CRS.from_string(UTM).to_wkt(), from_origin(500_000, 4_200_400, 10, 10), 40, 40)


def _layer(path, geoms, crs=UTM, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs).to_file(path)
    return str(path)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.colormap(1), src.tags(1), src.transform, src.crs


def test_two_layers_later_drawn_over_earlier(tmp_path) -> None:
    # parks: the west half; buildings: a block straddling it; the buildings layer comes last and wins
    parks = _layer(tmp_path / "parks.gpkg", [box(500_000, 4_200_000, 500_200, 4_200_400)])
    blds = _layer(tmp_path / "bld.geojson", [box(500_150, 4_200_150, 500_250, 4_200_250)])
    out = tmp_path / "layout.tif"
    table = write_layout(LayoutSpec((parks, f"buildings={blds}")), GRID, out)
    assert table.names == ("background", "parks", "buildings") and table.codes == (0, 1, 2)
    codes, cmap, tags, transform, crs = _read(out)
    assert transform == GRID.transform and crs == UTM
    assert codes[0, 0] == 1 and codes[0, 39] == 0  # park, background
    assert codes[20, 17] == 2  # the overlap: buildings, drawn last
    assert codes[20, 22] == 2 and codes[5, 5] == 1
    assert tags["CLASS_2"] == "buildings" and cmap[0][:3] == (0, 0, 0)
    # the reverse order: parks drawn over the buildings where they overlap
    write_layout(LayoutSpec((f"buildings={blds}", parks)), GRID, out)
    assert _read(out)[0][20, 17] == 2  # code 2 is now parks (classes follow the order given)
    assert layout_classes(LayoutSpec((f"buildings={blds}", parks))) == ["background", "buildings", "parks"]


def test_a_layer_in_another_crs_is_reprojected(tmp_path) -> None:
    from pyproj import Transformer

    to_wgs = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    # the same 100 m square as in UTM, given in longitude/latitude
    corners = [to_wgs.transform(x, y) for x, y in ((500_100, 4_200_100), (500_200, 4_200_100),
                                                   (500_200, 4_200_200), (500_100, 4_200_200))]
    from shapely.geometry import Polygon

    lyr = _layer(tmp_path / "wgs.geojson", [Polygon(corners)], crs="EPSG:4326")
    write_layout(LayoutSpec((lyr,)), GRID, tmp_path / "o.tif")
    codes = _read(tmp_path / "o.tif")[0]
    rows, cols = np.nonzero(codes == 1)
    # UTM y 4200200..4200100 -> rows 20..29; x 500100..500200 -> cols 10..19
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (20, 29, 10, 19)


def test_class_field_values_become_classes_and_thin_lines_need_all_touched(tmp_path) -> None:
    lu = _layer(tmp_path / "landuse.gpkg", [box(500_000, 4_200_000, 500_100, 4_200_100),
                                            box(500_300, 4_200_300, 500_400, 4_200_400)], kind=["farm", "forest"])
    road = _layer(tmp_path / "road.gpkg", [LineString([(500_003, 4_200_397), (500_397, 4_200_003)])])
    spec = LayoutSpec((lu, road), class_field="kind")
    assert layout_classes(spec) == ["background", "farm", "forest", "road"]
    write_layout(spec, GRID, tmp_path / "thin.tif")
    thin = _read(tmp_path / "thin.tif")[0]
    write_layout(LayoutSpec((lu, road), "kind", all_touched=True), GRID, tmp_path / "touched.tif")
    touched = _read(tmp_path / "touched.tif")[0]
    assert thin[35, 5] == 1 and thin[5, 35] == 2
    assert (touched == 3).sum() > (thin == 3).sum()
    # the diagonal line is connected (8-neighbourhood) in every row with all_touched
    assert all((touched[r] == 3).any() for r in range(40))


def test_unknown_classes_and_missing_crs_are_refused(tmp_path) -> None:
    lyr = _layer(tmp_path / "water.gpkg", [box(500_000, 4_200_000, 500_100, 4_200_100)])
    model_table = layout_table(["background", "buildings"])
    with pytest.raises(GeopixError, match="water.*does not know.*background, buildings"):
        write_layout(LayoutSpec((lyr,)), GRID, tmp_path / "o.tif", model_table)
    assert not (tmp_path / "o.tif").exists()
    # the real SpaceNet labels published without a crs member: GeoJSON then means WGS 84, but the
    # coordinates are Albers metres
    with pytest.raises(GeopixError, match="are not degrees"):
        layout_classes(LayoutSpec((str(real("vector/solaris/geotiff_custom_proj_labels.geojson")),)))
    with pytest.raises(GeopixError, match="no such file|does not exist|not found"):
        layout_classes(LayoutSpec((str(tmp_path / "missing.gpkg"),)))


def test_grid_from_bounds_rounds_up_to_whole_pixels() -> None:
    g = Grid.from_bounds((0, 0, 105, 50), 10, "EPSG:32618")
    assert (g.width, g.height) == (11, 5) and g.transform.c == 0 and g.transform.f == 50
    with pytest.raises(GeopixError, match="left < right"):
        Grid.from_bounds((10, 0, 0, 5), 1, "EPSG:32618")
    with pytest.raises(GeopixError, match="not a CRS"):
        Grid.from_bounds((0, 0, 1, 1), 1, "EPSG:nonsense")


def test_real_spacenet_buildings_on_their_image() -> None:
    spec = LayoutSpec((str(real("vector/solaris/geotiff_labels.geojson")),))
    grid = Grid.like(real("geotiff/solaris/sample_geotiff.tif"))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        write_layout(spec, grid, Path(d) / "b.tif")
        codes = _read(Path(d) / "b.tif")[0]
    share = float((codes == 1).mean())
    assert codes.shape == (900, 900) and 0.02 < share < 0.6  # 43 buildings over an Atlanta suburb


def test_a_layout_with_no_feature_on_the_grid_is_refused_naming_both_extents(tmp_path) -> None:
    far = _layer(tmp_path / "far.gpkg", [box(600_000, 4_300_000, 600_100, 4_300_100)])
    with pytest.raises(GeopixError, match=r"no feature of the layout falls on the grid \(x 500000..500400, "
                                          r"y 4200000..4200400.*layer far: 1 feature\(s\) within x 600000..600100"):
        write_layout(LayoutSpec((far,)), GRID, tmp_path / "o.tif")
    assert not (tmp_path / "o.tif").exists()
    near = _layer(tmp_path / "near.gpkg", [box(500_000, 4_200_000, 500_100, 4_200_100)])
    write_layout(LayoutSpec((near, far)), GRID, tmp_path / "o.tif")  # one layer of two off the grid: a warning
    assert (_read(tmp_path / "o.tif")[0] == 1).any()


def test_an_unknown_class_is_refused_even_when_its_features_miss_the_grid(tmp_path) -> None:
    """The class names are checked on every feature before anything is burnt or filtered by extent."""
    near = _layer(tmp_path / "buildings.gpkg", [box(500_000, 4_200_000, 500_100, 4_200_100)])
    far = _layer(tmp_path / "water.gpkg", [box(600_000, 4_300_000, 600_100, 4_300_100)])
    model_table = layout_table(["background", "buildings"])
    with pytest.raises(GeopixError, match="class\\(es\\) water that the model does not know"):
        write_layout(LayoutSpec((near, far)), GRID, tmp_path / "o.tif", model_table)
    assert not (tmp_path / "o.tif").exists()
