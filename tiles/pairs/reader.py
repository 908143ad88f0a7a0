"""What a pair reader is: the interface training, evaluation and chipping read pairs through.

Two readers implement it: :class:`~.pair.RasterPair` (two georeferenced rasters, the map warped
onto the imagery grid) and :class:`~.aligned.AlignedPair` (one pix2pix side-by-side image).
Callers depend on :class:`PairReader` only, so a reader cannot lack something another has
without the type checker saying so; both reader modules import this one and neither imports the
other. :class:`PairSpec` (what to open) and :class:`Sample` (what a read returns) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from affine import Affine

from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.mosaic.grid import PixelWindow

__all__ = ["PairSpec", "Sample", "MapInfo", "PairReader"]


@dataclass(frozen=True)
class PairSpec:
    """What to open: paths and band choices. Picklable, so DataLoader workers can reopen it.

    Attributes:
        imagery: path of the imagery raster (defines the grid).
        maps: path of the map raster (warped onto the imagery grid).
        imagery_bands: 1-based bands of the imagery; ``None`` = all but alpha.
        map_bands: 1-based bands of the map; ``None`` = all but alpha.
        resampling: resampling of the map; ``None`` = by the map's kind: nearest for a
            categorical map (codes must stay codes), bilinear for continuous and rendered maps;
            without a kind, nearest for integer/palette maps and bilinear for float maps.
        aligned: ``"AB"``/``"BA"`` when ``imagery`` is a pix2pix side-by-side image (then
            ``maps`` is the same file); ``None`` for two rasters.
        map_kind: ``categorical`` | ``continuous`` | ``rendered`` once decided (it picks the
            default resampling); ``None`` before.
    """

    imagery: str
    maps: str
    imagery_bands: tuple[int, ...] | None = None
    map_bands: tuple[int, ...] | None = None
    resampling: str | None = None
    aligned: str | None = None
    map_kind: str | None = None


@dataclass(frozen=True)
class Sample:
    """Raw pixels of one window: ``imagery (bi, h, w)``, ``maps (bm, h, w)``, ``valid (h, w)`` (valid
    in both), and each side's own validity, ``imagery_valid`` and ``maps_valid`` ``(h, w)``: a
    generator's input is filled where its own raster is masked, whatever the other side holds."""

    imagery: np.ndarray
    maps: np.ndarray
    valid: np.ndarray
    imagery_valid: np.ndarray
    maps_valid: np.ndarray


@dataclass(frozen=True)
class MapInfo:
    """What the map file itself says about the first map band read (before any warping).

    Attributes:
        dtype: the band's dtype.
        nodata: the map's nodata value (``None`` if it declares none).
        units: the band's units (``None`` if unset), e.g. ``metre`` for a DEM.
        colors: the band's colour table (code -> RGBA), ``None`` without one.
        names: the class names GDAL reads for the band (category names, a RAT's name column:
            :func:`~geo_pix2pix.tiles.encoding.categories.read_categories`), code -> name.
    """

    dtype: str
    nodata: float | None
    units: str | None
    colors: dict[int, tuple[int, ...]] | None
    names: dict[int, str] = field(default_factory=dict)


@runtime_checkable
class PairReader(Protocol):
    """An open imagery/map pair, read in windows of its *region* (the part both cover).

    Windows are relative to the region's top-left corner, where the tile grid is anchored. A
    reader is a context manager and is not shared across processes (reopen it from ``spec``).
    """

    spec: PairSpec
    imagery_bands: tuple[int, ...]
    map_bands: tuple[int, ...]
    resampling: str
    region: PixelWindow

    @property
    def crs(self) -> Any:
        """The imagery's CRS (``None`` if it has none)."""

    @property
    def transform(self) -> Affine:
        """Affine transform of the region's top-left pixel."""

    @property
    def paletted_map_bands(self) -> tuple[int, ...]:
        """The map bands read that carry a colour table (class codes, not values)."""

    def map_info(self) -> MapInfo:
        """The map file's own dtype, nodata, units and colour table of the first map band."""

    def require_tile(self, tile: int) -> None:
        """Refuse a region too small to hold one ``tile``-pixel window."""

    def window_transform(self, win: PixelWindow) -> Affine:
        """Affine transform of a region-relative window."""

    def read(self, win: PixelWindow) -> Sample:
        """Raw pixels and per-pixel validity of a region-relative window."""

    def coarse_valid(self, factor: int) -> np.ndarray:
        """Validity of the region decimated by ``factor`` (``ceil(h/f) x ceil(w/f)`` booleans)."""

    def compute_stats(self) -> tuple[BandStats, BandStats]:
        """Normalisation statistics of imagery and map."""

    def map_codes(self) -> np.ndarray:
        """Distinct values of the first map band over the region's valid pixels."""

    def close(self) -> None: ...

    def __enter__(self) -> PairReader: ...

    def __exit__(self, *exc: object) -> None: ...
