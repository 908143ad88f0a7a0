"""Where the holes are (the region's nodata, a mask raster, polygons in another CRS), which are too
large, and the holes training draws."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from geo_pix2pix.tiles.errors import GeopixError, NoOverlapError
from geo_pix2pix.tiles.holes.draw import (
    EVAL_HOLES,
    MIN_FRACTION,
    HoleSpec,
    draw_holes,
    eval_holes,
    nodata_shapes,
    parse_kinds,
)
from geo_pix2pix.tiles.holes.plan import FILLED, KEPT, NODATA, TOO_LARGE, plan_holes, read_holes, read_validity
from tests.conftest import smooth_image, write_raster

UTM = Affine(10.0, 0, 500_000.0, 0, -10.0, 4_200_000.0)


def test_the_region_s_own_nodata_alpha_and_nan_are_holes(tmp_path) -> None:
    f = smooth_image(40, 50, 2, dtype="float32")
    f[0, 3, 4] = np.nan
    f[1, 7, 8] = -9999.0
    src = write_raster(tmp_path / "f.tif", f, nodata=-9999.0)
    with rasterio.open(src) as s:
        valid = read_validity(s, (1, 2))
    assert not valid[3, 4] and not valid[7, 8] and valid.sum() == 40 * 50 - 2  # one band missing is enough
    rgba = np.concatenate([smooth_image(30, 30, 3), np.full((1, 30, 30), 255, np.uint8)])
    rgba[3, 10:12, 10:12] = 0
    src = write_raster(tmp_path / "a.tif", rgba, photometric="RGB", alpha="YES")
    with rasterio.open(src) as s:
        valid = read_validity(s, (1, 2, 3))
    assert (~valid).sum() == 4 and not valid[10:12, 10:12].any()


def test_holes_from_a_mask_raster_on_another_grid(tmp_path) -> None:
    region = write_raster(tmp_path / "r.tif", smooth_image(60, 60, 1))
    mask = np.zeros((30, 30), np.uint8)  # half the resolution, the same place
    mask[5:10, 20:25] = 7
    path = write_raster(tmp_path / "m.tif", mask, transform=Affine(20.0, 0, 500_000.0, 0, -20.0, 4_200_000.0))
    with rasterio.open(region) as s:
        holes = read_holes(path, s)
    assert holes[10:20, 40:50].all() and holes.sum() == 100


def test_holes_from_polygons_in_another_crs(tmp_path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    region = write_raster(tmp_path / "r.tif", smooth_image(60, 60, 1))  # EPSG:32618, 10 m
    # pixels rows 10..19, cols 20..29 (inset by a metre so that no neighbour is touched)
    x0, y1 = UTM @ (20, 10)
    x1, y0 = UTM @ (30, 20)
    gdf = gpd.GeoDataFrame(geometry=[box(x0 + 1, y0 + 1, x1 - 1, y1 - 1)], crs="EPSG:32618").to_crs("EPSG:4326")
    gdf.to_file(tmp_path / "clouds.gpkg")
    with rasterio.open(region) as s:
        holes = read_holes(tmp_path / "clouds.gpkg", s)
    assert holes[10:20, 20:30].all()
    assert holes.sum() <= 12 * 12  # reprojection may bend the outline a pixel, no more


def test_polygons_without_a_crs_are_refused(tmp_path) -> None:
    ring = "[[500100,4199900],[500200,4199900],[500200,4199800],[500100,4199900]]"
    (tmp_path / "c.geojson").write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
                                        '"geometry":{"type":"Polygon","coordinates":[' + ring + ']}}]}')
    region = write_raster(tmp_path / "r.tif", smooth_image(60, 60, 1))
    with rasterio.open(region) as s, pytest.raises(GeopixError, match="not degrees|no CRS"):
        read_holes(tmp_path / "c.geojson", s)


def test_holes_that_miss_the_region_are_refused(tmp_path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    region = write_raster(tmp_path / "r.tif", smooth_image(60, 60, 1))  # 500000..500600, 4199400..4200000
    beside = write_raster(tmp_path / "m.tif", np.ones((60, 60), np.uint8),  # its right edge on the region's left
                          transform=Affine(10.0, 0, 499_400.0, 0, -10.0, 4_200_000.0))
    gpd.GeoDataFrame(geometry=[box(510_000, 4_100_000, 510_100, 4_100_100)], crs="EPSG:32618").to_crs(
        "EPSG:4326").to_file(tmp_path / "far.gpkg")
    with rasterio.open(region) as s:
        for path in (beside, tmp_path / "far.gpkg"):
            with pytest.raises(NoOverlapError, match=f"{path.name} does not overlap the region"):
                read_holes(path, s)
        inside = write_raster(tmp_path / "z.tif", np.zeros((60, 60), np.uint8))  # overlaps, holds no hole
        assert not read_holes(inside, s).any()


def test_too_large_holes_are_left_whole() -> None:
    valid = np.ones((100, 100), bool)
    valid[10:13, :] = False  # a stripe 3 px wide: radius 2
    valid[40:90, 40:90] = False  # a 50 px square: radius 25
    plan = plan_holes(valid, None, max_hole=10)
    assert (plan.state[10:13] == FILLED).all()
    assert (plan.state[40:90, 40:90] == TOO_LARGE).all()  # the whole hole, its rim included
    assert plan.holes == 2 and plan.too_large == 1 and plan.largest_radius == pytest.approx(25.0, abs=0.5)
    assert plan_holes(valid, None, max_hole=30).too_large == 0


def test_given_holes_leave_other_nodata_alone_and_it_is_not_known() -> None:
    valid = np.ones((50, 50), bool)
    valid[:, :10] = False  # nodata collar
    holes = np.zeros((50, 50), bool)
    holes[20:30, 10:15] = True  # against the collar: the nearest known pixel is on its right
    plan = plan_holes(valid, holes, max_hole=4)
    assert (plan.state[:, :10] == NODATA).all()
    assert (plan.state[20:30, 10:15] == TOO_LARGE).all()  # radius 5 > 4: the collar is no known pixel
    assert (plan.state[:20, 10:] == KEPT).all()
    assert (plan_holes(valid, holes, max_hole=5).state[20:30, 10:15] == FILLED).all()


def test_training_holes_are_deterministic_and_sized() -> None:
    spec = HoleSpec(parse_kinds("strokes,boxes,stripes,nodata"), 0.4)
    bank = nodata_shapes([np.pad(np.ones((8, 64), bool), ((0, 56), (0, 0)))], 0.4)
    a = draw_holes(np.random.default_rng([3, 7]), 16, 64, spec, bank)
    b = draw_holes(np.random.default_rng([3, 7]), 16, 64, spec, bank)
    assert np.array_equal(a, b) and a.shape == (16, 64, 64)
    share = a.mean(axis=(1, 2))
    assert (share >= MIN_FRACTION).all() and (share <= 0.4).all()
    assert len({tuple(np.flatnonzero(h)[:5]) for h in a}) > 8  # not the same hole again and again
    with pytest.raises(ValueError, match="clouds"):
        parse_kinds("clouds")


def test_evaluation_holes_have_their_size() -> None:
    for kind, sizes in EVAL_HOLES.items():
        for size in sizes:
            holes = eval_holes(np.random.default_rng(0), (256, 300), kind, size)
            assert 0.08 < holes.mean() < 0.25
            if kind == "stripes":  # runs down a column: the stripe's width (tilted 8 degrees: +1 at most)
                col = np.diff(np.concatenate([[0], holes[:, 150].astype(int), [0]]))
                runs = np.flatnonzero(col == -1) - np.flatnonzero(col == 1)
                assert set(runs[1:-1].tolist()) <= {size, size + 1}
