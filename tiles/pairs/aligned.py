"""The pix2pix *aligned* format: one image holds input and target side by side.

The datasets of the pix2pix paper store each example as a ``2W x H`` image, ``A | B``. With
order ``AB`` the left half is the imagery and the right half the map (the maps dataset, as in
``../shared/data/maps256``); ``BA`` swaps them. Such images carry no georeferencing; each is a
pair whose region is one half, and validation holds out whole images (``--val-pairs``).
:class:`AlignedPair` is a :class:`~.reader.PairReader`, like :class:`~.pair.RasterPair`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from geo_pix2pix.tiles.encoding.normalize import BandStats, compute_stats
from geo_pix2pix.tiles.errors import InputNotFoundError, NotARasterError, TileSizeError
from geo_pix2pix.tiles.mosaic.grid import PixelWindow
from geo_pix2pix.tiles.pairs.reader import MapInfo, PairSpec, Sample
from geo_pix2pix.tiles.raster import open_raster, reading, resolve_bands

__all__ = ["AlignedPair", "aligned_specs", "ALIGNED_SUFFIXES"]

ALIGNED_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def aligned_specs(directory: str | os.PathLike[str], order: str = "AB") -> list[PairSpec]:
    """One :class:`PairSpec` per image of ``directory`` (sorted by name)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputNotFoundError(f"aligned directory not found: {d}")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in ALIGNED_SUFFIXES)
    if not files:
        raise InputNotFoundError(f"no images ({', '.join(ALIGNED_SUFFIXES)}) in aligned directory {d}")
    if order not in ("AB", "BA"):
        raise ValueError(f"aligned order must be AB or BA, got {order!r}")
    return [PairSpec(str(f), str(f), aligned=order) for f in files]


class AlignedPair:
    """A side-by-side image read as an imagery/map pair (a :class:`~.reader.PairReader`)."""

    def __init__(self, spec: PairSpec) -> None:
        self.spec = spec
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # side-by-side images have no CRS
            self.src = open_raster(spec.imagery, "aligned image")
        if self.src.width % 2:
            self.src.close()
            raise NotARasterError(f"aligned image {spec.imagery} has an odd width ({self.src.width}); "
                                  "expected input|target halves of equal width")
        half = self.src.width // 2
        left, right = 0, half
        cols: tuple[int, int] = (left, right) if spec.aligned == "AB" else (right, left)
        self.imagery_col, self.map_col = cols
        self.imagery_bands = resolve_bands(spec.imagery_bands or tuple(range(1, min(3, self.src.count) + 1)),
                                           self.src.count, "imagery")
        self.map_bands = resolve_bands(spec.map_bands or tuple(range(1, min(3, self.src.count) + 1)),
                                       self.src.count, "map")
        self.resampling = "none"
        self.region = PixelWindow(0, 0, self.src.height, half)
        self.crs = None
        self.transform = Affine.identity()
        self.imagery = self.maps = self.src
        # one file holds both halves: a colour table would be the imagery's too, so none is reported
        self.paletted_map_bands: tuple[int, ...] = ()

    def require_tile(self, tile: int) -> None:
        if self.region.height < tile or self.region.width < tile:
            raise TileSizeError(f"aligned image {self.spec.imagery} halves are {self.region.width} x "
                                f"{self.region.height} pixels, smaller than one {tile}-pixel tile; use --tile-size "
                                f"{min(self.region.width, self.region.height) // 32 * 32 or 32}")

    def window_transform(self, win: PixelWindow) -> Affine:
        return Affine.translation(win.col, win.row)

    def read(self, win: PixelWindow) -> Sample:
        from rasterio.windows import Window

        with reading(self.spec.imagery, "aligned image"):
            img = self.src.read(self.imagery_bands, window=Window(self.imagery_col + win.col, win.row,
                                                                  win.width, win.height))
            mp = self.src.read(self.map_bands, window=Window(self.map_col + win.col, win.row, win.width, win.height))
        everywhere = np.ones((win.height, win.width), bool)
        return Sample(img, mp, everywhere, everywhere, everywhere)

    def coarse_valid(self, factor: int) -> np.ndarray:
        return np.ones((-(-self.region.height // factor), -(-self.region.width // factor)), bool)

    def map_info(self) -> MapInfo:
        """The image's dtype, nodata and units of the first map band; no colour table (one file
        holds both halves, so a colour table would be the imagery's too)."""
        band = self.map_bands[0]
        return MapInfo(self.src.dtypes[band - 1], self.src.nodata, self.src.units[band - 1] or None, None)

    def map_codes(self) -> np.ndarray:
        """Distinct values of the first map band over the map half (every pixel is valid)."""
        return np.unique(self.read(PixelWindow(0, 0, self.region.height, self.region.width)).maps[0])

    def compute_stats(self) -> tuple[BandStats, BandStats]:
        s = self.read(PixelWindow(0, 0, self.region.height, self.region.width))
        dtype = self.src.dtypes[0]
        return (compute_stats(s.imagery, s.valid, dtype, "imagery"), compute_stats(s.maps, s.valid, dtype, "map"))

    def close(self) -> None:
        if not self.src.closed:
            self.src.close()

    def __enter__(self) -> AlignedPair:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
