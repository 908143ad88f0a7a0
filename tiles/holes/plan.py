"""Where a region's holes are, and which of them inpainting fills: one byte per pixel.

Every pixel of the region gets a *state* (the codes of the filled-pixels record, :data:`STATES`):

* ``0`` kept: a valid input pixel outside the holes, written bit for bit as read;
* ``1`` filled: a hole pixel geopix paints;
* ``2`` too large: a pixel of a hole too large to fill credibly, left as nodata;
* ``3`` nodata: an invalid input pixel outside the holes (``--holes`` given), left as nodata.

The holes are the region's own invalid pixels (nodata value, alpha, internal mask, NaN, in any
band; a filled pixel keeps the bands that were valid), or, with
``--holes``, the non-zero valid pixels of a mask raster (read onto the region's grid, nearest) or
the pixels polygons touch (reprojected to the region's CRS). Given holes that lie wholly outside
the region are refused (:class:`NoOverlapError`), as imagery and a map that do not overlap are: a
mask of another place or in a wrong CRS would otherwise fill nothing and report success. The
generator sees every pixel that is not kept as unknown.

**Too large.** A hole is a connected (8-neighbour) set of hole pixels. Its *radius* is the largest
distance (Euclidean, pixels) from one of its pixels to the nearest kept pixel: half the width of
the widest part of the hole, and for a stripe half its width. A hole whose radius exceeds
``max_hole`` is left entirely as nodata (state 2): deep inside a large hole nothing in the image
says what is there, and a painted guess is worse than a gap an analyst can see. The distance is
taken inside each hole's bounding box grown by ``max_hole + 1`` pixels: a kept pixel further away
cannot bring the radius under the limit.

Memory: the states of the whole region (1 byte per pixel) and, while planning, the hole labels (4).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasterio.windows import Window

from geo_pix2pix.tiles.errors import GeopixError, NoOverlapError
from geo_pix2pix.tiles.raster import open_raster, reading

__all__ = ["STATES", "KEPT", "FILLED", "TOO_LARGE", "NODATA", "HolePlan", "plan_holes", "read_validity",
           "read_holes", "band_validity"]

KEPT, FILLED, TOO_LARGE, NODATA = 0, 1, 2, 3
#: Code -> name of the filled-pixels record's classes.
STATES = {KEPT: "kept (input pixel)", FILLED: "filled by geopix", TOO_LARGE: "hole too large, left nodata",
          NODATA: "input nodata outside the holes"}
#: Rows read at a time while reading validity and mask rasters.
_STRIP = 512


@dataclass(frozen=True)
class HolePlan:
    """The region's states and what they count.

    Attributes:
        state: ``(height, width)`` uint8 of :data:`STATES` codes.
        holes: connected holes; ``too_large``: how many of them are left unfilled.
        filled_pixels / unfilled_pixels: pixels of state 1 / state 2.
        largest_radius: the largest hole radius found (pixels; 0 without holes).
        given: the holes were given (``--holes``: every band of a hole pixel is painted); else they
            are the region's invalid pixels (a filled pixel keeps the bands it had).
    """

    state: np.ndarray
    holes: int
    too_large: int
    filled_pixels: int
    unfilled_pixels: int
    largest_radius: float
    given: bool = False


def band_validity(src: Any, bands: tuple[int, ...], window: Window, data: np.ndarray | None = None) -> np.ndarray:
    """``(bands, h, w)`` bool: each band's valid pixels in ``window`` (its mask: nodata, alpha or
    internal mask; and finite values). ``data``: the window's values, if already read."""
    data = src.read(list(bands), window=window) if data is None else data
    valid: np.ndarray = src.read_masks(list(bands), window=window) > 0
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data)
    return valid


def read_validity(src: Any, bands: tuple[int, ...]) -> np.ndarray:
    """``(height, width)`` bool: pixels valid in every band read (a pixel missing in one band is
    unknown to the generator; :func:`band_validity` keeps the bands it has)."""
    out = np.empty((src.height, src.width), bool)
    with reading(src.name, "region"):
        for r in range(0, src.height, _STRIP):
            w = Window(0, r, src.width, min(_STRIP, src.height - r))
            out[r:r + w.height] = band_validity(src, bands, w).all(axis=0)
    return out


def read_holes(path: str | os.PathLike[str], src: Any) -> np.ndarray:
    """``(height, width)`` bool holes on ``src``'s grid from ``path``: a raster mask (non-zero valid
    pixels, resampled nearest onto the grid, in any CRS) or vector polygons (any format GDAL reads,
    any CRS; every pixel a polygon touches)."""
    from rasterio.errors import RasterioIOError

    try:
        mask_src = open_raster(path, "holes mask")
    except GeopixError:
        mask_src = None
    if mask_src is not None:
        with mask_src:
            return _raster_holes(mask_src, src)
    from geo_pix2pix.tiles.encoding.layout import read_layer

    try:
        _, gdf = read_layer(str(path))
    except RasterioIOError as exc:  # pragma: no cover - read_layer turns readers' errors into one line
        raise GeopixError(f"--holes {path}: {exc}") from None
    return _vector_holes(gdf, src, str(path))


def _raster_holes(mask_src: Any, src: Any) -> np.ndarray:
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    if mask_src.crs is None or src.crs is None:
        if (mask_src.width, mask_src.height) != (src.width, src.height):
            raise GeopixError(f"holes mask {mask_src.name} has no CRS and another size than the region; give it the "
                              "region's grid")
        vrt = mask_src
    else:
        from rasterio.warp import transform_bounds

        _check_overlap(f"holes mask {mask_src.name}", transform_bounds(mask_src.crs, src.crs, *mask_src.bounds), src)
        vrt = WarpedVRT(mask_src, crs=src.crs, transform=src.transform, width=src.width, height=src.height,
                        resampling=Resampling.nearest)
    out = np.empty((src.height, src.width), bool)
    with reading(mask_src.name, "holes mask"):
        for r in range(0, src.height, _STRIP):
            w = Window(0, r, src.width, min(_STRIP, src.height - r))
            v = vrt.read(1, window=w)
            out[r:r + w.height] = (v != 0) & np.isfinite(v) & (vrt.dataset_mask(window=w) > 0)
    if vrt is not mask_src:
        vrt.close()
    return out


def _vector_holes(gdf: Any, src: Any, path: str) -> np.ndarray:
    from rasterio.features import rasterize

    if src.crs is None:
        raise GeopixError(f"the region has no CRS, so polygons ({path}) cannot be placed on it; give a mask raster")
    shapes = gdf.to_crs(src.crs)
    geoms = [g for g in shapes.geometry if g is not None and not g.is_empty]
    if not geoms:
        raise NoOverlapError(f"--holes {path} holds no geometries")
    _check_overlap(f"--holes {path}", tuple(shapes.total_bounds), src)
    holes: np.ndarray = rasterize(geoms, out_shape=(src.height, src.width), transform=src.transform, fill=0,
                                  default_value=1, all_touched=True, dtype="uint8").astype(bool)
    return holes


def _check_overlap(what: str, bounds: tuple[float, ...], src: Any) -> None:
    """Refuse holes whose bounds (in the region's CRS) share no area with the region."""
    left, bottom, right, top = bounds
    r = src.bounds
    if left >= r.right or right <= r.left or bottom >= r.top or top <= r.bottom:
        raise NoOverlapError(f"{what} does not overlap the region {src.name}: holes ({left:.2f}, {bottom:.2f}, "
                             f"{right:.2f}, {top:.2f}) and region ({r.left:.2f}, {r.bottom:.2f}, {r.right:.2f}, "
                             f"{r.top:.2f}) in {src.crs}")


def plan_holes(valid: np.ndarray, holes: np.ndarray | None, max_hole: float) -> HolePlan:
    """The states of a region whose valid pixels are ``valid``: the holes are ``holes`` (or, when
    None, every invalid pixel); holes of radius above ``max_hole`` are left (module docstring)."""
    from scipy import ndimage

    hole = ~valid if holes is None else holes
    state = np.where(hole, FILLED, np.where(valid, KEPT, NODATA)).astype(np.uint8)
    labels, n = ndimage.label(hole, structure=np.ones((3, 3), bool))
    too_large, largest = 0, 0.0
    margin = int(np.ceil(max_hole)) + 1
    h, w = hole.shape
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        r0, r1 = max(0, sl[0].start - margin), min(h, sl[0].stop + margin)
        c0, c1 = max(0, sl[1].start - margin), min(w, sl[1].stop + margin)
        known = state[r0:r1, c0:c1] == KEPT
        mine = labels[r0:r1, c0:c1] == i
        if known.any():
            radius = float(ndimage.distance_transform_edt(~known)[mine].max())
        else:
            radius = float("inf")
        largest = max(largest, radius)
        if radius > max_hole:
            state[r0:r1, c0:c1][mine] = TOO_LARGE
            too_large += 1
    return HolePlan(state, n, too_large, int((state == FILLED).sum()), int((state == TOO_LARGE).sum()),
                    largest if n else 0.0, holes is not None)
