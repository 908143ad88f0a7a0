"""The output side of a translation: rows arrive top to bottom, a Cloud Optimized GeoTIFF comes out.

Two sinks take the same rows (``write(values, row, mask)``):

* :func:`cog_stream` writes them into a striped temporary GeoTIFF (the *stream*) and halves them
  into the overview levels as they pass (:mod:`.overviews`; unmasked, averaged outputs); at the
  end GDAL's COG driver copies the stream and its levels into a second temporary file, renamed
  over the output. The mosaicker (one process) and the merge of shards (:mod:`.merge`) both write
  through it, so a merged raster is made by the very code that makes an unsharded one.
* :func:`part_file` writes them into one shard's part: a striped GeoTIFF holding rows
  ``[row0, row0 + n)`` of the full grid, georeferenced where those rows lie (its transform is the
  full grid's moved down ``row0`` rows), lossless (DEFLATE), renamed into place when complete.

Either way a reader never sees a partial file, and a failure (a full disk...) is one line that
names the output. What the bands mean is written once, from a :class:`~.metadata.BandMetadata`.

A sink's dataset may be written from another thread than the one that opened it (the pipeline's
I/O thread, :mod:`.mosaicker`), never from two at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.windows import Window

from geo_pix2pix.tiles.atomic import PARTIAL_SUFFIX, atomic_path
from geo_pix2pix.tiles.errors import OutputWriteError, first_line
from geo_pix2pix.tiles.mosaic.metadata import BandMetadata
from geo_pix2pix.tiles.mosaic.overviews import OverviewPyramid, overview_sizes
from geo_pix2pix.tiles.mosaic.strips import STREAM_ROWS

__all__ = ["DEFAULT_COG_OPTIONS", "STREAM_ROWS", "GDAL_CACHE_BYTES", "StreamSpec", "RowSink",
           "cog_options", "cog_stream", "part_file", "writing"]
#: The stream file is written uncompressed up to this size (compressing it cost the writer 1.5
#: CPU-seconds per 8192x8192 RGB raster, and the COG copy as much again to decompress); above it,
#: DEFLATE level 1, so translating a country does not need its raw size in temporary space.
STREAM_RAW_MAX_BYTES = 4 << 30
#: GDAL block cache while mosaicking, in bytes (rasterio hands ``GDAL_CACHEMAX`` to GDAL as a
#: byte count: a bare 128 is 128 bytes). Every block the writers write is written whole, once
#: (:mod:`.strips`), so the cache only saves decoding again the source blocks two chunks or two
#: tile rows share; it fills whatever its size on a wide raster, so it is kept small (GDAL's
#: default, 5% of RAM, would grow with the raster; measured in bench/README.md).
GDAL_CACHE_BYTES = 16 << 20

#: DEFLATE (readable by every GIS) at level 1: 2.6x less CPU than the default level 6 for 8% more
#: bytes on a translated 2048x2048 map; overviews averaged (the COG driver's default, cubic,
#: costs more and rings on map edges). Measured in bench/README.md; ``--co`` overrides any key.
#: PREDICTOR=YES picks the horizontal predictor for integers and the floating-point one for floats.
#: NUM_THREADS: the copy runs after the last tile, when the model no longer needs the cores.
DEFAULT_COG_OPTIONS = {"BLOCKSIZE": "512", "COMPRESS": "DEFLATE", "LEVEL": "1", "PREDICTOR": "YES",
                       "NUM_THREADS": "ALL_CPUS", "OVERVIEWS": "AUTO", "RESAMPLING": "AVERAGE",
                       "BIGTIFF": "IF_SAFER"}


def cog_options(classes: bool, creation_options: dict[str, str]) -> dict[str, str]:
    """The COG creation options: the defaults, then ``creation_options``. Class codes get
    overviews of the most frequent code (an average of codes is no class)."""
    defaults = {**DEFAULT_COG_OPTIONS, **({"RESAMPLING": "MODE"} if classes else {})}
    return {**defaults, **{k.upper(): str(v) for k, v in creation_options.items()}}


@dataclass(frozen=True)
class StreamSpec:
    """The grid and values of an output raster."""

    width: int
    height: int
    count: int
    dtype: str
    crs: Any
    transform: Affine


class RowSink:
    """Writes rows of an output raster, in order; ``row`` counts from the top of the full grid."""

    def __init__(self, dst: Any, row0: int = 0, pyramid: OverviewPyramid | None = None) -> None:
        self.dst, self.row0, self.pyramid = dst, row0, pyramid

    def write(self, values: np.ndarray, row: int, mask: np.ndarray | None = None) -> None:
        """``values``: ``(bands, n, width)`` in the output dtype; ``mask``: ``(n, width)`` bool,
        written as the internal mask (only where the output has no nodata value)."""
        window = Window(0, row - self.row0, values.shape[2], values.shape[1])
        self.dst.write(values, window=window)
        if self.pyramid is not None:
            self.pyramid.add(values)
        if mask is not None:
            self.dst.write_mask(mask.astype(np.uint8) * 255, window=window)


def _profile(spec: StreamSpec, meta: BandMetadata) -> dict[str, Any]:
    return {"width": spec.width, "height": spec.height, "count": spec.count, "dtype": spec.dtype,
            "crs": spec.crs, "transform": spec.transform,
            **({"nodata": meta.nodata} if meta.nodata is not None else {})}


@contextlib.contextmanager
def cog_stream(out: Path, spec: StreamSpec, options: dict[str, str], masked: bool,
               meta: BandMetadata) -> Iterator[RowSink]:
    """Yield a sink for every row of ``spec``'s grid; on success ``out`` is the finished COG.

    ``meta`` is written into the stream (the COG copy carries it over), and class names also into
    the PAM sidecar GDAL reads (:meth:`~.metadata.BandMetadata.write_sidecar`). ``masked``: the rows come
    with a mask (overviews are then GDAL's, which skip masked pixels).
    """
    temp = out.parent / f".{out.name}.stream-{os.getpid()}"
    stream = temp.with_name(temp.name + PARTIAL_SUFFIX)
    raw_bytes = spec.width * spec.height * spec.count * np.dtype(spec.dtype).itemsize
    profile = {"driver": "GTiff", **_profile(spec, meta), "tiled": False, "blockysize": STREAM_ROWS,
               "bigtiff": "if_safer",
               **({} if raw_bytes <= STREAM_RAW_MAX_BYTES else {"compress": "deflate", "zlevel": 1})}
    options = dict(options)
    sizes = _streamed_overviews(options, masked, spec.height, spec.width)
    levels = [temp.with_name(f"{temp.name}.ovr{k}{PARTIAL_SUFFIX}") for k in range(1, len(sizes) + 1)]
    vrt = temp.with_name(f"{temp.name}.vrt{PARTIAL_SUFFIX}")
    try:
        with writing(out), rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_CACHEMAX=GDAL_CACHE_BYTES):
            pyramid = OverviewPyramid(levels, profile, sizes) if sizes else None
            try:
                with rasterio.open(stream, "w", **profile) as dst:
                    meta.write(dst)
                    yield RowSink(dst, 0, pyramid)
                if pyramid is not None:
                    pyramid.finish()
            finally:
                if pyramid is not None:
                    pyramid.close()
            source = stream
            if pyramid is not None:  # the COG driver copies the levels instead of computing them
                source = pyramid.vrt(stream, vrt)
                options["OVERVIEWS"] = "FORCE_USE_EXISTING"
            with atomic_path(out) as tmp:
                rasterio.shutil.copy(str(source), str(tmp), driver="COG", **options)
            meta.write_sidecar(out)  # after the rename: the sidecar names the file now at ``out``
    finally:
        for path in (stream, vrt, *levels):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@contextlib.contextmanager
def part_file(out: Path, spec: StreamSpec, row0: int, rows: int, meta: BandMetadata) -> Iterator[RowSink]:
    """Yield a sink for rows ``[row0, row0 + rows)`` of ``spec``'s grid; on success ``out`` is a
    GeoTIFF of exactly those rows, where they lie on the ground, in strips of :data:`STREAM_ROWS`
    rows from its first (each written whole, once)."""
    profile = {"driver": "GTiff", **_profile(spec, meta), "height": rows,
               "transform": spec.transform @ Affine.translation(0, row0),
               "tiled": False, "blockysize": STREAM_ROWS, "compress": "deflate", "zlevel": 1,
               "bigtiff": "if_safer"}
    with writing(out), rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_CACHEMAX=GDAL_CACHE_BYTES):
        with atomic_path(out) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                meta.write(dst)
                yield RowSink(dst, row0)


def _streamed_overviews(options: dict[str, str], masked: bool, height: int, width: int) -> list[tuple[int, int]]:
    """Sizes of the overview levels the writer builds itself, or none where GDAL must build them:
    a masked output (averages must skip masked pixels), overviews other than averaged ones,
    overviews not asked for (``--co OVERVIEWS=NONE``) or counted (``OVERVIEW_COUNT``), or an
    odd-sized raster (its first level is not made of whole 2x2 blocks: see
    :class:`~.overviews.OverviewPyramid`)."""
    resampling = options.get("OVERVIEW_RESAMPLING", options.get("RESAMPLING", "AVERAGE")).upper()
    if masked or options.get("OVERVIEWS", "AUTO").upper() != "AUTO" or resampling != "AVERAGE" \
            or "OVERVIEW_COUNT" in options or not OverviewPyramid.streamable(height, width):
        return []
    try:
        block = int(options.get("BLOCKSIZE", "512"))
    except ValueError:
        return []  # GDAL reports the bad value
    return overview_sizes(height, width, block)


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """Turn GDAL/OS write failures (a full disk...) into one-line errors naming the output."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    try:
        yield
    except (RasterioError, CPLE_BaseError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, RasterioError) and exc.errno is None:
            raise
        raise OutputWriteError(
            f"could not write {out} ({first_line(exc)}); is the disk full? Any previous {out.name} is unchanged"
        ) from None
