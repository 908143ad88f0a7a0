"""Vector layers as a class layout: one band of class codes burnt onto a raster grid.

SPADE paints imagery from a class layout, and GIS users hold their layouts as vector layers
(buildings, roads, water) far more often than as rasters. :func:`write_layout` rasterises layers
(any OGR format, any CRS: each is reprojected to the grid's) onto a grid with
:func:`rasterio.features.rasterize` and writes a tiled GeoTIFF of class codes with a colour table,
which the rest of geopix reads like any categorical map.

Classes, in code order (the code is the class's index): ``background`` (code 0, every pixel no
feature covers), then per layer in the order given either one class named after the layer
(``NAME=PATH`` names it, otherwise the file's stem), or, with ``class_field``, one class per
distinct value of that attribute (named by the value, sorted), for layers that have the field.
Layers are drawn in the order given, each over the ones before, so the last layer wins where
features overlap (within a layer, the last feature). ``all_touched`` burns every pixel a feature
touches rather than those whose centre it covers: thin lines such as road centre-lines stay
connected.

A translate layout is burnt with the model's class list: a class name the model does not know is
refused, naming it, and a model class absent from the layers simply has no pixels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.errors import GeopixError

__all__ = ["BACKGROUND", "Grid", "LayoutSpec", "layout_classes", "layout_table", "read_layer", "write_layout"]

log = logging.getLogger(__name__)

#: The class of pixels no feature covers (code 0).
BACKGROUND = "background"
#: Rows rasterised at a time: a country-sized grid never sits in memory whole.
BLOCK_ROWS = 2048


@dataclass(frozen=True)
class LayoutSpec:
    """Vector layers (``PATH`` or ``NAME=PATH``) burnt into a class layout, in drawing order."""

    layers: tuple[str, ...]
    class_field: str | None = None
    all_touched: bool = False

    @property
    def paths(self) -> tuple[str, ...]:
        """The layers' file paths (``NAME=`` prefixes removed)."""
        return tuple(_split(layer)[1] for layer in self.layers)


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS (WKT), affine transform, width, height."""

    crs: str
    transform: Any
    width: int
    height: int

    @classmethod
    def like(cls, path: str | os.PathLike[str]) -> Grid:
        """The grid of an existing raster."""
        from geo_pix2pix.tiles.raster import open_raster

        with open_raster(path) as src:
            if src.crs is None:
                raise GeopixError(f"{path} has no CRS: vector layers cannot be placed on it")
            return cls(src.crs.to_wkt(), src.transform, src.width, src.height)

    @classmethod
    def from_bounds(cls, bounds: Sequence[float], res: float, crs: str) -> Grid:
        """A north-up grid covering ``bounds`` (left, bottom, right, top, in ``crs`` units) at
        square pixels of ``res``; the right and bottom edges round up to whole pixels."""
        from rasterio.crs import CRS
        from rasterio.errors import CRSError
        from rasterio.transform import from_origin

        left, bottom, right, top = (float(v) for v in bounds)
        if not (right > left and top > bottom) or res <= 0:
            raise GeopixError(f"--bounds {left:g} {bottom:g} {right:g} {top:g} with --res {res:g}: need left < right, "
                              "bottom < top and a positive resolution")
        try:
            wkt = CRS.from_user_input(crs).to_wkt()
        except (CRSError, ValueError) as exc:
            raise GeopixError(f"--crs {crs!r} is not a CRS ({exc})") from None
        width, height = int(np.ceil((right - left) / res)), int(np.ceil((top - bottom) / res))
        return cls(wkt, from_origin(left, top, res, res), width, height)


def _split(layer: str) -> tuple[str, str]:
    """``NAME=PATH`` -> (NAME, PATH); ``PATH`` -> (the file's stem, PATH)."""
    name, sep, path = layer.partition("=")
    if sep and name and not os.path.exists(layer):
        return name, path
    return Path(layer).stem, layer


def read_layer(layer: str) -> tuple[str, Any]:
    """A vector layer (``NAME=PATH`` or ``PATH``) as (name, GeoDataFrame without empty geometries); one-line
    errors for an unreadable file, a missing CRS and coordinates that cannot be in the declared one."""
    from geo_pix2pix.tiles.raster import check_input_file

    name, path = _split(layer)
    check_input_file(path, "vector layer")
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio/GDAL raise many kinds; all mean "not a readable layer"
        raise GeopixError(f"cannot read vector layer {path}: {str(exc).splitlines()[0]}") from None
    if gdf.crs is None:
        raise GeopixError(f"vector layer {path} has no CRS (a .prj, or a crs member in GeoJSON); set one first, "
                          "e.g. ogr2ogr -a_srs EPSG:XXXX")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.crs.is_geographic and len(gdf):
        west, south, east, north = gdf.total_bounds
        if min(west, east) < -180 or max(west, east) > 360 or min(south, north) < -90 or max(south, north) > 90:
            raise GeopixError(f"vector layer {path} is in {gdf.crs.to_string()} (GeoJSON without a crs member "
                              f"means WGS 84) but its coordinates (x {west:.6g}..{east:.6g}, "
                              f"y {south:.6g}..{north:.6g}) are not degrees; set its real CRS, "
                              "e.g. ogr2ogr -a_srs EPSG:XXXX")
    return name, gdf


def _values(gdf: Any, field: str) -> list[str]:
    return sorted({str(v) for v in gdf[field].dropna().tolist()})


def _load(spec: LayoutSpec) -> list[tuple[str, Any]]:
    """Each layer's class name and features (non-empty geometries)."""
    return [read_layer(layer) for layer in spec.layers]


def _classes(loaded: list[tuple[str, Any]], field: str | None) -> list[str]:
    names = [BACKGROUND]
    for name, gdf in loaded:
        new = _values(gdf, field) if field and field in gdf.columns else [name]
        names += [n for n in new if n not in names]
    return names


def layout_classes(spec: LayoutSpec) -> list[str]:
    """Class names in code order (``background`` first) that ``spec``'s layers define."""
    return _classes(_load(spec), spec.class_field)


def _shapes(loaded: list[tuple[str, Any]], field: str | None, grid: Grid,
            code_of: dict[str, int]) -> list[tuple[Any, int]]:
    """``(geometry, code)`` in drawing order, reprojected to the grid's CRS and limited to it.

    Refused before anything is burnt: class names missing from ``code_of`` (checked on every
    feature, on the grid or not, so a mistyped class is caught whatever the extent), and a layout
    of which no feature falls on the grid (it would burn an all-background layout, and a model
    would paint or learn from nothing). One layer of several missing the grid is only a warning.
    """
    from rasterio.transform import array_bounds
    from shapely.geometry import box

    loaded = [(name, _classified(gdf, field)) for name, gdf in loaded]
    unknown = sorted({c for name, gdf in loaded for c in _feature_classes(gdf, name, field)} - set(code_of))
    if unknown:
        raise GeopixError(f"the layout has class(es) {', '.join(unknown)} that the model does not know (its classes: "
                          f"{', '.join(code_of)}); name a layer's class with --layout NAME=PATH")
    bounds = array_bounds(grid.height, grid.width, grid.transform)  # west, south, east, north
    extent = box(*bounds)
    shapes: list[tuple[Any, int]] = []
    missed: list[str] = []
    for name, gdf in loaded:
        gdf = gdf.to_crs(grid.crs)
        on_grid = gdf[gdf.intersects(extent)]
        if len(gdf) and not len(on_grid):
            missed.append(f"layer {name}: {len(gdf)} feature(s) within {_extent(gdf.total_bounds)}")
        classes = _feature_classes(on_grid, name, field)
        shapes += [(g, code_of[c]) for g, c in zip(on_grid.geometry, classes, strict=True)]
    if not shapes:
        raise GeopixError(f"no feature of the layout falls on the grid ({_extent(bounds)}, in the grid's CRS): "
                          f"{'; '.join(missed) or 'the layers hold no features'}; check the layers' extent and CRS "
                          "against the grid's (the imagery, --like or --bounds/--res/--crs)")
    for m in missed:
        log.warning("vector %s, none on the grid (%s)", m, _extent(bounds))
    return shapes


def _classified(gdf: Any, field: str | None) -> Any:
    """The features that have a class: all, or with ``field``, those whose value is set."""
    return gdf[gdf[field].notna()] if field and field in gdf.columns else gdf


def _feature_classes(gdf: Any, name: str, field: str | None) -> list[str]:
    """Each feature's class: its ``field`` value, or the layer's name."""
    if field and field in gdf.columns:
        return [str(v) for v in gdf[field].tolist()]
    return [name] * len(gdf)


def _extent(bounds: Sequence[float]) -> str:
    """``west, south, east, north`` as short text for a message."""
    def num(v: float) -> str:
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.6g}"

    return f"x {num(bounds[0])}..{num(bounds[2])}, y {num(bounds[1])}..{num(bounds[3])}"


def layout_table(classes: Sequence[str]) -> ClassTable:
    """The class table of a layout: codes 0..K-1 named ``classes`` (background black)."""
    return ClassTable.build(list(range(len(classes))), dict(enumerate(classes)), {0: (0, 0, 0)})


def write_layout(spec: LayoutSpec, grid: Grid, out: str | os.PathLike[str],
                 table: ClassTable | None = None) -> ClassTable:
    """Burn ``spec`` onto ``grid`` as a tiled GeoTIFF of codes with a colour table and class names
    (tags, band description, and the PAM sidecar GDAL and QGIS read them from: see
    :meth:`~geo_pix2pix.tiles.mosaic.metadata.BandMetadata.of_classes`), written to a temporary
    name and renamed.

    ``table``: the classes to burn by name (a model's); pixels no feature covers take its
    ``background`` class, or its nodata code if it has none. Default: the layers' own classes
    (:func:`layout_classes`, codes 0..K-1). Returns the table written.
    """
    import rasterio
    from rasterio.crs import CRS
    from rasterio.features import rasterize
    from rasterio.windows import Window
    from rasterio.windows import transform as window_transform

    from geo_pix2pix.tiles.atomic import atomic_path
    from geo_pix2pix.tiles.mosaic.metadata import BandMetadata

    loaded = _load(spec)
    table = table or layout_table(_classes(loaded, spec.class_field))
    code_of = dict(zip(table.names, table.codes, strict=True))
    fill = code_of.get(BACKGROUND, table.nodata)
    shapes = _shapes(loaded, spec.class_field, grid, code_of)
    meta = BandMetadata.of_classes(table, "class layout: " + ", ".join(table.names), {})
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": table.dtype,
               "crs": CRS.from_wkt(grid.crs), "transform": grid.transform, "nodata": table.nodata, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with atomic_path(out) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for top in range(0, grid.height, BLOCK_ROWS):
            window = Window(0, top, grid.width, min(BLOCK_ROWS, grid.height - top))
            block = np.full((window.height, grid.width), fill, table.dtype)
            if shapes:
                block = rasterize(shapes, out_shape=block.shape, transform=window_transform(window, grid.transform),
                                  fill=fill, all_touched=spec.all_touched, dtype=table.dtype)
            dst.write(block, 1, window=window)
        meta.write(dst)
    meta.write_sidecar(out)
    log.info("layout: %d feature(s) of %d layer(s) burnt onto a %dx%d grid as %s", len(shapes), len(spec.layers),
             grid.width, grid.height, ", ".join(f"{c} {n}" for c, n in zip(table.codes, table.names, strict=True)))
    return table
