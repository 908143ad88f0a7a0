"""Overviews built while the output rows stream, so the final COG copy only has to compress.

Given a raster without overviews, GDAL's COG driver makes them itself after the last row: it
reads the whole full-resolution raster back and averages it level by level through a temporary
file. On an 8192x8192 RGB map that was 2.8 s of the copy's 3.6 s (``bench/README.md``). The
mosaicker's writer thread already holds every output row once, in order; halving them there,
during the model's compute, and handing GDAL the finished levels (a VRT whose bands list them as
``<Overview>`` sources; the COG driver copies existing overviews) leaves the copy the compression.

Geometry, as GDAL's own (checked against GDAL 3.10 in the tests): each level halves the one
above, rounding down, and is averaged from it; levels are added until the longer side fits in
one COG block, as the COG driver's ``OVERVIEWS=AUTO`` does. Where the level above has even sides
a pixel is the mean of 2x2 pixels, computed in integers for integer rasters.

Every level is written in whole strips (:class:`~.strips.StripBuffer`): a block of a level file
is written once, never read back and written again.

Masked outputs (inputs with nodata) are left to GDAL: averaging must then skip masked pixels and
the mask needs overviews of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

from geo_pix2pix.tiles.mosaic.strips import STREAM_ROWS, StripBuffer

__all__ = ["overview_sizes", "halve", "OverviewPyramid"]

#: Columns halved at a time: the integer sums of a wide strip stay a few MB.
HALVE_COLUMNS = 4096
#: numpy dtype name -> GDAL data type name, for the VRT (the types a GeoTIFF stream can hold).
GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
              "int32": "Int32", "uint64": "UInt64", "int64": "Int64", "float32": "Float32", "float64": "Float64"}


def overview_sizes(height: int, width: int, block: int) -> list[tuple[int, int]]:
    """``(height, width)`` of each overview level, as GDAL's COG driver makes them.

    Each level halves the one above, rounding down; levels are added while the longer side is
    larger than ``block`` (measured against GDAL 3.10: 513 pixels at block 256 get one level of
    256, 520 two).
    """
    sizes: list[tuple[int, int]] = []
    while max(height, width) > block:
        height, width = max(1, height // 2), max(1, width // 2)
        sizes.append((height, width))
    return sizes


def halve(rows: np.ndarray) -> np.ndarray:
    """``(bands, 2h, 2w)`` -> ``(bands, h, w)``: the mean of each 2x2 block.

    Integers are rounded half up, in integers: exactly GDAL's AVERAGE for a factor of 2. Computed
    :data:`HALVE_COLUMNS` columns at a time (each output pixel on its own: the same values).
    """
    h, w = rows.shape[1:]
    if h % 2 or w % 2:
        raise ValueError(f"halve needs even sides, got {h} x {w}")
    out = np.empty((rows.shape[0], h // 2, w // 2), rows.dtype)
    for c in range(0, w, HALVE_COLUMNS):
        out[:, :, c // 2:(c + HALVE_COLUMNS) // 2] = _halve(rows[:, :, c:c + HALVE_COLUMNS])
    return out


def _halve(rows: np.ndarray) -> np.ndarray:
    dt = rows.dtype
    if np.issubdtype(dt, np.integer):
        wide = np.int64 if dt.itemsize >= 4 else np.int32
        a = rows.astype(wide)
        s = a[:, 0::2, 0::2] + a[:, 1::2, 0::2] + a[:, 0::2, 1::2] + a[:, 1::2, 1::2]
        return ((s + 2) // 4).astype(dt)
    half = ((rows[:, 0::2, 0::2] + rows[:, 1::2, 0::2]) + (rows[:, 0::2, 1::2] + rows[:, 1::2, 1::2])) * dt.type(0.25)
    return cast(np.ndarray, half)


class OverviewPyramid:
    """Writes the overview levels of a raster whose rows arrive top to bottom, in any blocks.

    A level is streamed (the 2x2 means of the level above, as rows arrive) while the level above
    has even sides. Below a level with an odd side GDAL's pixel no longer covers exactly 2x2
    pixels (a 275-pixel side becomes 137 pixels of 2.007), so those levels, small by then, are
    made at :meth:`finish` from the last streamed level by GDAL's own averaging, as the COG
    driver makes every level from the one above. Either way the values are GDAL's. Each level
    is an uncompressed striped GeoTIFF (written once, read once by the COG copy: compression
    would not pay for itself), written in whole strips.

    :meth:`add` and :meth:`finish` may be called from another thread than the one that made the
    pyramid, never from two at once (:mod:`.mosaicker` says which thread does what).
    """

    def __init__(self, paths: list[Path], profile: dict[str, Any], sizes: list[tuple[int, int]]) -> None:
        above = [(profile["height"], profile["width"]), *sizes[:-1]][:len(sizes)]
        streamed = next((k for k, (h, w) in enumerate(above) if h % 2 or w % 2), len(sizes))
        if sizes and not self.streamable(profile["height"], profile["width"]):
            raise ValueError("the first overview level cannot be streamed from an odd-sized raster")
        self.paths, self.sizes = paths, sizes
        self._profile = {"driver": "GTiff", "count": profile["count"], "dtype": profile["dtype"],
                         "crs": profile.get("crs"), "tiled": False, "blockysize": STREAM_ROWS}
        self._full = (profile["height"], profile["width"], profile["transform"])
        self._next_row = [0] * streamed  # rows of each streamed level made so far
        self._carry: list[np.ndarray | None] = [None] * streamed
        self._dst: list[Any] = [self._open(k) for k in range(streamed)]
        self._strips = [StripBuffer(0, self.sizes[k][1], self._writer(k)) for k in range(streamed)]

    @staticmethod
    def streamable(height: int, width: int) -> bool:
        """Whether the first level can be streamed (both sides even)."""
        return height % 2 == 0 and width % 2 == 0

    def _open(self, k: int) -> Any:
        h, w = self.sizes[k]
        full_h, full_w, transform = self._full
        return rasterio.open(self.paths[k], "w", width=w, height=h, **self._profile,
                             transform=transform @ Affine.scale(full_w / w, full_h / h))

    def add(self, rows: np.ndarray) -> None:
        """The next full-resolution rows, ``(bands, n, width)``."""
        self._push(0, rows)

    def close(self) -> None:
        """Close the streamed levels' files (also after a failure; idempotent)."""
        for dst in self._dst:
            dst.close()

    def finish(self) -> None:
        """After the last row: write the streamed levels' last strips and close them, then make the
        rest from the last of them."""
        if any(c is not None for c in self._carry):
            raise RuntimeError("an overview level was left with half a row pair")  # a caller bug
        for strips in self._strips:
            strips.close()
        self.close()
        for k in range(len(self._dst), len(self.sizes)):
            with rasterio.open(self.paths[k - 1]) as above:
                rows = above.read(out_shape=(above.count, *self.sizes[k]), resampling=Resampling.average)
            with self._open(k) as dst:
                dst.write(rows)

    def _push(self, k: int, rows: np.ndarray) -> None:
        """``rows`` of level ``k - 1`` (the full resolution for ``k = 0``) into level ``k`` and on."""
        while k < len(self._dst):
            carry, self._carry[k] = self._carry[k], None
            if carry is not None:
                rows = np.concatenate([carry, rows], axis=1)
            if rows.shape[1] % 2:  # the last row waits for its pair
                self._carry[k], rows = rows[:, -1:], rows[:, :-1]
            if rows.shape[1] == 0:
                return
            rows = halve(rows)
            self._strips[k].add(self._next_row[k], rows)
            self._next_row[k] += rows.shape[1]
            k += 1

    def _writer(self, k: int) -> Any:
        def write(row: int, rows: np.ndarray) -> None:
            dst = self._dst[k]
            dst.write(rows, window=Window(0, row, dst.width, rows.shape[1]))
        return write

    def vrt(self, full: Path, path: Path) -> Path:
        """Write a VRT of ``full`` (the full-resolution stream) with these levels as its overviews;
        georeferencing, colour interpretation and metadata are the stream's."""
        with rasterio.open(full) as src:
            width, height, count, dtype = src.width, src.height, src.count, src.dtypes[0]
            crs, transform, colorinterp, tags = src.crs, src.transform, src.colorinterp, src.tags()
        parts = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
        if crs is not None:
            parts.append(f'<SRS dataAxisToSRSAxisMapping="1,2">{escape(crs.to_wkt())}</SRS>')
        if crs is not None or not transform.is_identity:
            parts.append(f"<GeoTransform>{', '.join(repr(v) for v in transform.to_gdal())}</GeoTransform>")
        if tags:
            parts.append("<Metadata>" + "".join(f'<MDI key="{escape(k)}">{escape(v)}</MDI>' for k, v in tags.items())
                         + "</Metadata>")
        for b in range(1, count + 1):
            parts.append(f'<VRTRasterBand dataType="{GDAL_TYPES[dtype]}" band="{b}">'
                         f"<ColorInterp>{colorinterp[b - 1].name}</ColorInterp>"
                         f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(str(full))}</SourceFilename>'
                         f"<SourceBand>{b}</SourceBand></SimpleSource>")
            parts.extend(f'<Overview><SourceFilename relativeToVRT="0">{escape(str(p))}</SourceFilename>'
                         f"<SourceBand>{b}</SourceBand></Overview>" for p in self.paths)
            parts.append("</VRTRasterBand>")
        parts.append("</VRTDataset>")
        path.write_text("".join(parts))
        return path
