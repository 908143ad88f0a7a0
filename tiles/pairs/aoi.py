"""Validation windows from user polygons (``--val-aoi``): any vector format, any CRS.

The polygons are reprojected to the imagery CRS; each non-overlapping grid window of the region
whose footprint is at least half inside them becomes a validation window. A layer without a CRS
is refused rather than guessed (a real-world defect: GeoJSON files in projected metres that do
not declare it).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from geo_pix2pix.tiles.errors import GeoreferencingError, NoOverlapError, NotARasterError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow, grid_windows
from geo_pix2pix.tiles.raster import check_input_file

__all__ = ["aoi_val_windows"]


def _read_polygons(path: str | os.PathLike[str], crs: Any) -> Any:
    import geopandas as gpd

    p = check_input_file(path, "validation AOI")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise NotARasterError(f"validation AOI {p} is not a vector layer GDAL can read ({exc})") from None
    if gdf.empty:
        raise NoOverlapError(f"validation AOI {p} holds no features")
    if gdf.crs is None:
        raise GeoreferencingError(
            f"validation AOI {p} declares no CRS; set one (e.g. ogr2ogr -a_srs EPSG:XXXX)"
        )
    return gdf.to_crs(crs).geometry.union_all() if hasattr(gdf.geometry, "union_all") else gdf.to_crs(crs).unary_union


def aoi_val_windows(
    path: str | os.PathLike[str], crs: Any, region_transform: Any, height: int, width: int, tile: int
) -> list[PixelWindow]:
    """Grid windows of the region at least half inside the AOI polygons.

    Args:
        crs: CRS of the imagery grid.
        region_transform: affine transform of the region's top-left pixel.
    """
    import shapely

    aoi = _read_polygons(path, crs)
    windows = list(grid_windows(height, width, tile, 0))
    boxes = []
    for w in windows:
        x0, y0 = region_transform @ (w.col, w.row)
        x1, y1 = region_transform @ (w.col_stop, w.row_stop)
        boxes.append(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    arr = np.array(boxes, dtype=object)
    inside = shapely.area(shapely.intersection(arr, aoi)) / shapely.area(arr)
    chosen = [w for w, f in zip(windows, inside, strict=True) if f >= 0.5]
    if not chosen:
        raise NoOverlapError(
            f"validation AOI {path} covers no {tile}-pixel window of the common footprint "
            "by half or more; draw larger polygons or use a smaller --tile-size"
        )
    return chosen
