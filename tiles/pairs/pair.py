"""A paired imagery/map raster, aligned pixel for pixel on the imagery grid.

The imagery raster defines the grid (CRS, transform, pixel size): it is never resampled, so
predictions made on it are aligned with the user's data. The map may differ in CRS, resolution,
extent and band count; it is warped on the fly onto the imagery grid with a GDAL warped VRT
(nearest resampling for integer or palette maps so class values and crisp map colours
survive; bilinear for continuous float maps; overridable). Only the intersection of the two
footprints, expressed as a whole-pixel window of the imagery grid (the *region*), is used.

Windows passed to :meth:`RasterPair.read` are relative to the region's top-left corner, which
is where the tile grid is anchored.
"""

from __future__ import annotations

import logging
import math
from typing import Any, cast

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from geo_pix2pix.tiles.encoding.normalize import BandStats, compute_stats, sample_shape
from geo_pix2pix.tiles.errors import GeoreferencingError, NoOverlapError, NoValidDataError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.aligned import AlignedPair
from geo_pix2pix.tiles.pairs.reader import MapInfo, PairReader, PairSpec, Sample
from geo_pix2pix.tiles.raster import default_bands, has_color_table, open_raster, reading, resolve_bands, valid_mask

__all__ = ["PairSpec", "RasterPair", "Sample", "open_pair"]

log = logging.getLogger(__name__)

_RESAMPLING = {"nearest": Resampling.nearest, "bilinear": Resampling.bilinear,
               "cubic": Resampling.cubic, "average": Resampling.average,
               "mode": Resampling.mode}


def _bounds_text(b: tuple[float, float, float, float]) -> str:
    return f"({b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}, {b[3]:.2f})"


class RasterPair:
    """An open imagery/map pair. Use as a context manager; not shared across processes."""

    def __init__(self, spec: PairSpec) -> None:
        self.spec = spec
        self.imagery = open_raster(spec.imagery, "imagery")
        try:
            self._raw_map = open_raster(spec.maps, "map")
        except Exception:
            self.imagery.close()
            raise
        try:
            self.imagery_bands = resolve_bands(
                spec.imagery_bands or default_bands(self.imagery), self.imagery.count, "imagery"
            )
            self.map_bands = resolve_bands(
                spec.map_bands or default_bands(self._raw_map), self._raw_map.count, "map"
            )
            self.resampling = spec.resampling or self._auto_resampling()
            self.region = self._find_region()
            self.maps = self._align_map()
        except Exception:
            self.close()
            raise

    @property
    def paletted_map_bands(self) -> tuple[int, ...]:
        """The map bands read for training that carry a colour table (class codes, not values)."""
        return tuple(b for b in self.map_bands if has_color_table(self._raw_map, b))

    def map_info(self) -> MapInfo:
        """The map file's own dtype, nodata, units, colour table and class names of the first map
        band (read from the file, not the warped view, whose nodata and colours GDAL may change)."""
        from geo_pix2pix.tiles.encoding.categories import read_categories

        raw, band = self._raw_map, self.map_bands[0]
        colors = ({k: tuple(v) for k, v in raw.colormap(band).items()} if has_color_table(raw, band) else None)
        return MapInfo(raw.dtypes[band - 1], raw.nodata, raw.units[band - 1] or None, colors,
                       read_categories(raw.name, band))

    # -- set-up ---------------------------------------------------------------------------
    def _auto_resampling(self) -> str:
        if self.spec.map_kind is not None:
            return "nearest" if self.spec.map_kind == "categorical" else "bilinear"
        m = self._raw_map
        if has_color_table(m) or np.issubdtype(np.dtype(m.dtypes[0]), np.integer):
            return "nearest"
        return "bilinear"

    def _same_grid(self) -> bool:
        i, m = self.imagery, self._raw_map
        return bool(
            i.crs == m.crs
            and i.width == m.width
            and i.height == m.height
            and i.transform.almost_equals(m.transform)
        )

    def _find_region(self) -> PixelWindow:
        img, mp = self.imagery, self._raw_map
        if img.crs is None or mp.crs is None:
            if img.crs is None and mp.crs is None and (img.width, img.height) == (mp.width, mp.height):
                log.warning("neither raster is georeferenced; pairing them pixel for pixel")
                return PixelWindow(0, 0, img.height, img.width)
            which = "imagery" if img.crs is None else "map"
            path = self.spec.imagery if img.crs is None else self.spec.maps
            raise GeoreferencingError(
                f"{which} {path} has no CRS, so it cannot be aligned with the other raster; "
                "assign one (e.g. gdal_edit.py -a_srs EPSG:XXXX) or pass rasters on the same grid"
            )
        if self._same_grid():
            return PixelWindow(0, 0, img.height, img.width)
        mb = transform_bounds(mp.crs, img.crs, *mp.bounds, densify_pts=21)
        ib = tuple(img.bounds)
        left, bottom = max(ib[0], mb[0]), max(ib[1], mb[1])
        right, top = min(ib[2], mb[2]), min(ib[3], mb[3])
        if left >= right or bottom >= top:
            raise NoOverlapError(
                f"imagery and map do not overlap: imagery {_bounds_text(ib)} and map "
                f"{_bounds_text(mb)} in {img.crs.to_string()}"
            )
        win = from_bounds(left, bottom, right, top, img.transform)
        # Round inward to whole pixels (tolerating float noise) so every pixel is in both rasters.
        eps = 1e-6
        r0 = max(0, math.ceil(win.row_off - eps))
        c0 = max(0, math.ceil(win.col_off - eps))
        r1 = min(img.height, math.floor(win.row_off + win.height + eps))
        c1 = min(img.width, math.floor(win.col_off + win.width + eps))
        if r1 <= r0 or c1 <= c0:
            raise NoOverlapError(
                f"imagery and map overlap by less than one pixel: imagery {_bounds_text(ib)} "
                f"and map {_bounds_text(mb)} in {img.crs.to_string()}"
            )
        return PixelWindow(r0, c0, r1 - r0, c1 - c0)

    def _align_map(self) -> Any:
        if self.imagery.crs is None or self._same_grid():
            return self._raw_map
        mp = self._raw_map
        no_mask = mp.nodata is None and all(
            rasterio.enums.MaskFlags.all_valid in f for f in mp.mask_flag_enums
        )
        return WarpedVRT(
            mp,
            crs=self.imagery.crs,
            transform=self.imagery.transform,
            width=self.imagery.width,
            height=self.imagery.height,
            resampling=_RESAMPLING[self.resampling],
            # Without nodata or a mask, pixels outside the map would read as valid zeros.
            add_alpha=no_mask,
        )

    def require_tile(self, tile: int) -> None:
        """Raise :class:`NoOverlapError` if the common region cannot hold one tile."""
        if self.region.height < tile or self.region.width < tile:
            ib = tuple(self.imagery.bounds)
            mb = (
                transform_bounds(self._raw_map.crs, self.imagery.crs, *self._raw_map.bounds)
                if self.imagery.crs is not None and self._raw_map.crs is not None
                else tuple(self._raw_map.bounds)
            )
            crs = self.imagery.crs.to_string() if self.imagery.crs else "pixel coordinates"
            raise NoOverlapError(
                f"the common footprint of imagery and map is {self.region.width} x "
                f"{self.region.height} pixels, smaller than one {tile}-pixel tile: imagery "
                f"{_bounds_text(ib)} and map {_bounds_text(mb)} in {crs}; "
                "use a smaller --tile-size or rasters that overlap more"
            )

    # -- geometry -------------------------------------------------------------------------
    @property
    def crs(self) -> Any:
        return self.imagery.crs

    @property
    def transform(self) -> Affine:
        """Affine transform of the region's top-left pixel."""
        return self.window_transform(PixelWindow(0, 0, 1, 1))

    def window_transform(self, win: PixelWindow) -> Affine:
        """Affine transform of a region-relative window."""
        return cast(Affine, self.imagery.transform @ Affine.translation(
            self.region.col + win.col, self.region.row + win.row
        ))

    def _rio_window(self, win: PixelWindow) -> Window:
        return Window(self.region.col + win.col, self.region.row + win.row, win.width, win.height)

    # -- reading --------------------------------------------------------------------------
    def read(self, win: PixelWindow) -> Sample:
        """Raw pixels and per-pixel validity of a region-relative window."""
        w = self._rio_window(win)
        with reading(self.spec.imagery, "imagery"):
            img = self.imagery.read(self.imagery_bands, window=w)
            img_valid = valid_mask(img, self.imagery.dataset_mask(window=w))
        with reading(self.spec.maps, "map"):
            mp = self.maps.read(self.map_bands, window=w)
            map_valid = valid_mask(mp, self.maps.dataset_mask(window=w))
        return Sample(img, mp, img_valid & map_valid, img_valid, map_valid)

    def coarse_valid(self, factor: int) -> np.ndarray:
        """Validity of the region decimated by ``factor`` (``ceil(h/f) x ceil(w/f)`` booleans).

        Used to find windows with enough valid pixels without reading the whole raster.
        """
        shape = (
            max(1, math.ceil(self.region.height / factor)),
            max(1, math.ceil(self.region.width / factor)),
        )
        whole = self._rio_window(PixelWindow(0, 0, self.region.height, self.region.width))
        with reading(f"{self.spec.imagery} / {self.spec.maps}", "imagery or map"):
            return self._coarse_valid(whole, shape)

    def _coarse_valid(self, whole: Window, shape: tuple[int, int]) -> np.ndarray:
        valid: np.ndarray = self.imagery.dataset_mask(window=whole, out_shape=shape) > 0
        valid &= self.maps.dataset_mask(window=whole, out_shape=shape) > 0
        for src, bands in ((self.imagery, self.imagery_bands), (self.maps, self.map_bands)):
            if np.issubdtype(np.dtype(src.dtypes[bands[0] - 1]), np.floating):
                data = src.read(bands, window=whole, out_shape=(len(bands), *shape))
                valid &= np.isfinite(data).all(axis=0)
        return valid

    def _sample_grid(self) -> tuple[Window, tuple[int, int]]:
        """The whole region and the decimated shape (:func:`~.normalize.sample_shape`) that statistics
        and class codes are read at."""
        h, w = self.region.height, self.region.width
        return self._rio_window(PixelWindow(0, 0, h, w)), sample_shape(h, w)

    def compute_stats(self) -> tuple[BandStats, BandStats]:
        """Normalisation statistics of imagery and map over a decimated read of the region."""
        whole, shape = self._sample_grid()
        with reading(self.spec.imagery, "imagery"):
            img = self.imagery.read(self.imagery_bands, window=whole, out_shape=(len(self.imagery_bands), *shape))
            valid = valid_mask(img, self.imagery.dataset_mask(window=whole, out_shape=shape))
        with reading(self.spec.maps, "map"):
            mp = self.maps.read(self.map_bands, window=whole, out_shape=(len(self.map_bands), *shape))
            valid &= valid_mask(mp, self.maps.dataset_mask(window=whole, out_shape=shape))
        if not valid.any():
            raise NoValidDataError(
                f"imagery {self.spec.imagery} and map {self.spec.maps} have no valid pixels in "
                "common (all nodata, masked or NaN)"
            )
        return (
            compute_stats(img, valid, self.imagery.dtypes[self.imagery_bands[0] - 1], "imagery"),
            compute_stats(mp, valid, self._raw_map.dtypes[self.map_bands[0] - 1], "map"),
        )

    def map_codes(self) -> np.ndarray:
        """Distinct values of the first map band over the valid pixels of the region, from a
        decimated read (nearest: codes stay codes; a class covering fewer than a few thousand
        pixels of a very large raster may be missed, which a class table file makes up for)."""
        whole, shape = self._sample_grid()
        with reading(self.spec.maps, "map"):
            mp = self.maps.read(self.map_bands[:1], window=whole, out_shape=(1, *shape))
            valid = valid_mask(mp, self.maps.dataset_mask(window=whole, out_shape=shape))
        return np.unique(mp[0][valid])

    # -- life cycle -----------------------------------------------------------------------
    def close(self) -> None:
        for attr in ("maps", "_raw_map", "imagery"):
            src = getattr(self, attr, None)
            if src is not None and not src.closed:
                src.close()

    def __enter__(self) -> RasterPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_pair(spec: PairSpec) -> PairReader:
    """Open ``spec``: a :class:`RasterPair`, or an :class:`~.aligned.AlignedPair` for side-by-side images."""
    if spec.aligned:
        return AlignedPair(spec)
    return RasterPair(spec)
