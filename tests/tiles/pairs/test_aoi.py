"""Validation windows from polygons in another CRS (`--val-aoi`)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import rasterio
import shapely

from geo_pix2pix.tiles.errors import GeoreferencingError
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.tiles.pairs.prepare import TilerConfig, prepare_pair
from tests.conftest import real


def test_val_aoi_in_wgs84_selects_windows_and_keeps_the_gap(tmp_path) -> None:
    sat = real("google_sat2maps/000008_Charlotte_sat.tif")
    mp = real("google_sat2maps/000008_Charlotte_map.tif")
    with rasterio.open(sat) as src:
        b = src.bounds
        # Polygon over the left quarter of the raster (columns 0-127 of 512), drawn in EPSG:3857.
        poly = shapely.box(b.left, b.bottom, b.left + (b.right - b.left) / 4, b.top)
        crs = src.crs
    aoi = tmp_path / "aoi.gpkg"
    gpd.GeoDataFrame(geometry=[poly], crs=crs).to_crs("EPSG:4326").to_file(aoi)
    p = prepare_pair(PairSpec(str(sat), str(mp)), TilerConfig(tile=128, val_aoi=str(aoi)))
    assert p.split.method == "aoi"
    assert {v.col for v in p.val} == {0} and len(p.val) == 4
    assert (p.train.cols >= 256).all()  # one full tile of gap after the AOI's windows


def test_val_aoi_without_crs_is_refused(tmp_path) -> None:
    sat = real("google_sat2maps/000008_Charlotte_sat.tif")
    aoi_nocrs = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]).to_file(aoi_nocrs)
    with pytest.raises(GeoreferencingError, match="declares no CRS"):
        prepare_pair(PairSpec(str(sat), str(sat)), TilerConfig(tile=128, val_aoi=str(aoi_nocrs)))
