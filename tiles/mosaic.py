"""The mosaicker: a whole raster through a predict function, out as a Cloud Optimized GeoTIFF.

It knows no network: it takes ``predict(tiles) -> tiles`` on normalised float32 arrays.

Pipeline (three threads, each with its own GDAL handle, since a dataset must not be shared
across threads): a *reader* reads the source rows of tile row ``k + 1`` in one windowed read,
reflects them into the padded frame and cuts tiles, in the source's own dtype (a quarter of the
memory of float32 for bytes: a tile row of an 8192-pixel-wide raster is 9 MB, not 35), while the
*main* thread normalises and runs ``predict`` batch by batch on tile row ``k`` and blends each
batch (:class:`~.blend.RowBlender`); a *writer* turns finished rows into output values, applies
the input's mask, writes them into a temporary GeoTIFF and halves them into the overview levels
(:mod:`.overviews`; unmasked outputs). At the end GDAL's COG driver copies the stream and its
levels into a second temporary file, which is renamed over the output. The output has exactly
the input's CRS, transform and size.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.windows import Window

from .atomic import PARTIAL_SUFFIX, atomic_path, check_output, remove_stale_partials
from .blend import MosaicPlan, RowBlender, plan_mosaic
from .errors import OutputWriteError, first_line
from .classes import ClassTable
from .normalize import BandStats
from .overviews import OverviewPyramid, overview_sizes
from .raster import open_raster, reading

__all__ = ["MosaicConfig", "MosaicResult", "mosaic_raster", "blend_tile_row", "DEFAULT_COG_OPTIONS", "Predict"]

log = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], np.ndarray]

#: PREDICTOR=YES picks the horizontal predictor for integers and the floating-point one for floats.
#: Rows per strip of the temporary stream file (writes are buffered to whole strips).
STREAM_ROWS = 64
#: Finished row blocks waiting for the writer thread; past this the main thread waits, so a slow
#: disk cannot pile float32 rows up in memory.
MAX_PENDING_WRITES = 2
#: The stream file is written uncompressed up to this size (compressing it cost the writer 1.5
#: CPU-seconds per 8192x8192 RGB raster, and the COG copy as much again to decompress); above it,
#: DEFLATE level 1, so translating a country does not need its raw size in temporary space.
STREAM_RAW_MAX_BYTES = 4 << 30
#: GDAL block cache while mosaicking; GDAL's default (5% of RAM) grows with the raster.
GDAL_CACHE_MB = 128

#: DEFLATE (readable by every GIS) at level 1: 2.6x less CPU than the default level 6 for 8% more
#: bytes on a translated 2048x2048 map; overviews averaged (the COG driver's default, cubic,
#: costs more and rings on map edges). Measured in bench/README.md; ``--co`` overrides any key.
#: NUM_THREADS: the copy runs after the last tile, when the model no longer needs the cores.
DEFAULT_COG_OPTIONS = {"BLOCKSIZE": "512", "COMPRESS": "DEFLATE", "LEVEL": "1", "PREDICTOR": "YES",
                       "NUM_THREADS": "ALL_CPUS", "OVERVIEWS": "AUTO", "RESAMPLING": "AVERAGE",
                       "BIGTIFF": "IF_SAFER"}


@dataclass(frozen=True)
class MosaicConfig:
    """How to mosaic.

    Attributes:
        bands: 1-based input bands fed to ``predict``.
        in_stats / out_stats: normalisation of input values and of predictions (a
            :class:`~.classes.ClassTable` for class rasters: probabilities are blended, codes written).
        tile / overlap: tiling of the padded frame.
        batch_size: tiles per ``predict`` call.
        creation_options: GDAL COG creation options (override :data:`DEFAULT_COG_OPTIONS`).
        tags: metadata written into the output.
    """

    bands: tuple[int, ...]
    in_stats: BandStats | ClassTable
    out_stats: BandStats | ClassTable
    tile: int
    overlap: int
    batch_size: int = 8
    creation_options: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MosaicResult:
    """What was written."""

    path: Path
    tiles: int
    width: int
    height: int
    masked: bool


def _has_mask(src: Any) -> bool:
    """Whether the input has pixels to mask: a mask or nodata, or float values (NaN)."""
    return any(MaskFlags.all_valid not in f for f in src.mask_flag_enums) or np.issubdtype(
        np.dtype(src.dtypes[0]), np.floating)


class _Reader:
    """Reads tile rows of the padded frame from its own dataset handle."""

    def __init__(self, path: str, plan: MosaicPlan, cfg: MosaicConfig) -> None:
        self.src = open_raster(path)
        self.plan, self.cfg = plan, cfg

    def row_tiles(self, k: int) -> np.ndarray:
        """``(n_cols, bands, tile, tile)`` raw (not yet normalised) tiles of tile row ``k``."""
        return self.plan.tile_row(k, self._read_rows)

    def _read_rows(self, lo: int, hi: int) -> np.ndarray:
        with reading(self.src.name, "region"):
            return self.src.read(self.cfg.bands, window=Window(0, lo, self.plan.width, hi - lo))

    def close(self) -> None:
        self.src.close()


def blend_tile_row(tiles: np.ndarray, predict: Predict, in_stats: BandStats, batch_size: int,
                   blender: RowBlender) -> None:
    """Normalise one tile row's raw tiles, predict them batch by batch and blend each batch in.

    The one place a tile meets the network: translate and in-memory prediction both run it, so a
    raster and the same values as an array give the same pixels.
    """
    for i in range(0, len(tiles), batch_size):  # blended batch by batch: no row of predictions
        blender.add_tiles(predict(in_stats.normalize(tiles[i:i + batch_size])))
    blender.end_row()


class _Writer:
    """Writes finished rows (denormalised, masked like the input) into the stream file.

    Rows arrive in blocks of the tile stride; they are buffered and written in whole strips of
    :data:`STREAM_ROWS` rows, so GDAL never has to re-read and re-compress a half-written strip.
    """

    def __init__(self, src_path: str, dst: Any, cfg: MosaicConfig, masked: bool,
                 pyramid: OverviewPyramid | None) -> None:
        self.src = open_raster(src_path)
        self.dst, self.cfg, self.masked, self.pyramid = dst, cfg, masked, pyramid
        self._row = 0  # first buffered row
        self._buf: list[np.ndarray] = []

    def write(self, row: int, values: np.ndarray) -> None:
        if row != self._row + sum(b.shape[1] for b in self._buf):
            raise RuntimeError(f"rows out of order: got {row}")  # a mosaicker bug, not user input
        self._buf.append(self.cfg.out_stats.denormalize(values))
        n = sum(b.shape[1] for b in self._buf)
        aligned = (self._row + n) // STREAM_ROWS * STREAM_ROWS - self._row
        if aligned > 0:
            data = np.concatenate(self._buf, axis=1)
            self._flush(data[:, :aligned])
            self._buf = [data[:, aligned:]] if aligned < n else []

    def close_rows(self) -> None:
        """Write what is left (the raster's last, partial strip)."""
        if self._buf:
            self._flush(np.concatenate(self._buf, axis=1))
            self._buf = []

    def _flush(self, data: np.ndarray) -> None:
        window = Window(0, self._row, data.shape[2], data.shape[1])
        nodata = self.cfg.out_stats.nodata
        mask = None
        if self.masked:
            mask = self.src.dataset_mask(window=window) > 0
            if np.issubdtype(np.dtype(self.src.dtypes[0]), np.floating):
                data_in = self.src.read(self.cfg.bands, window=window)
                mask &= np.isfinite(data_in).all(axis=0)
            if nodata is not None:  # codes and measured values: the nodata value marks what the input lacks
                data = np.where(mask[None], data, np.asarray(nodata, data.dtype))
        self.dst.write(data, window=window)
        if self.pyramid is not None:
            self.pyramid.add(data)
        if mask is not None and nodata is None:
            self.dst.write_mask(mask.astype(np.uint8) * 255, window=window)
        self._row += data.shape[1]

    def close(self) -> None:
        self.src.close()


def mosaic_raster(
    src_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    predict: Predict,
    cfg: MosaicConfig,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> MosaicResult:
    """Translate ``src_path`` tile by tile through ``predict`` into the COG ``out_path``.

    Args:
        progress: called with the number of tiles finished since the last call.

    Raises:
        OutputExistsError: if ``out_path`` exists without ``overwrite`` or equals the input.
    """
    src_path, out = str(src_path), Path(out_path)
    check_output(out, [src_path], overwrite)
    for stale in remove_stale_partials(out):
        log.warning("removed a stale temporary file from an interrupted run: %s", stale)
    with open_raster(src_path, "region") as src:
        profile = src.profile
        height, width = src.height, src.width
        masked = _has_mask(src)
    plan = plan_mosaic(height, width, cfg.tile, cfg.overlap)
    out_count = cfg.out_stats.out_bands
    classes: ClassTable | None = getattr(cfg.out_stats, "class_table", None)
    # class codes: overviews take the most frequent code (an average of codes is no class)
    defaults = {**DEFAULT_COG_OPTIONS, **({"RESAMPLING": "MODE"} if classes is not None else {})}
    options = {**defaults, **{k.upper(): str(v) for k, v in cfg.creation_options.items()}}
    temp = out.parent / f".{out.name}.stream-{os.getpid()}"
    stream = temp.with_name(temp.name + PARTIAL_SUFFIX)
    raw_bytes = width * height * out_count * np.dtype(cfg.out_stats.dtype).itemsize
    stream_profile = {
        "driver": "GTiff", "width": width, "height": height, "count": out_count,
        "dtype": cfg.out_stats.dtype, "crs": profile.get("crs"), "transform": profile["transform"],
        "tiled": False, "blockysize": STREAM_ROWS, "bigtiff": "if_safer",
        **({} if raw_bytes <= STREAM_RAW_MAX_BYTES else {"compress": "deflate", "zlevel": 1}),
        **({"nodata": cfg.out_stats.nodata} if cfg.out_stats.nodata is not None else {}),
    }
    sizes = _streamed_overviews(options, masked, height, width)
    levels = [temp.with_name(f"{temp.name}.ovr{k}{PARTIAL_SUFFIX}") for k in range(1, len(sizes) + 1)]
    vrt = temp.with_name(f"{temp.name}.vrt{PARTIAL_SUFFIX}")
    try:
        with _writing(out), rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_CACHEMAX=GDAL_CACHE_MB):
            pyramid = OverviewPyramid(levels, stream_profile, sizes) if sizes else None
            try:
                with rasterio.open(stream, "w", **stream_profile) as dst:
                    _describe_output(dst, cfg.out_stats, out_count)
                    dst.update_tags(**cfg.tags)
                    _run_pipeline(src_path, dst, plan, cfg, masked, predict, progress, pyramid)
            finally:
                if pyramid is not None:
                    pyramid.close()
            source = stream
            if pyramid is not None:  # the COG driver copies the levels instead of computing them
                pyramid.finish()
                source = pyramid.vrt(stream, vrt)
                options["OVERVIEWS"] = "FORCE_USE_EXISTING"
            with atomic_path(out) as tmp:
                rasterio.shutil.copy(str(source), str(tmp), driver="COG", **options)
    finally:
        for path in (stream, vrt, *levels):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return MosaicResult(out, plan.n_tiles, width, height, masked)


def _describe_output(dst: Any, out_stats: Any, count: int) -> None:
    """What the output's values are: RGB colour interpretation for a picture; for class codes a
    colour table (QGIS draws the band paletted), band description and class names in the tags
    (``CLASS_<code>=name``, and ``GEOPIX_CLASSES`` as JSON); band names (probabilities) and units."""
    import json

    classes: ClassTable | None = getattr(out_stats, "class_table", None)
    if classes is None:
        if count == 3 and out_stats.dtype == "uint8":
            dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
        for i, name in enumerate(getattr(out_stats, "band_names", ())):
            dst.set_band_description(i + 1, name)
        if out_stats.units:
            dst.units = (out_stats.units,) * count
        return
    dst.colorinterp = [ColorInterp.palette]
    dst.write_colormap(1, classes.colormap())
    dst.set_band_description(1, "class code")
    dst.update_tags(1, **{f"CLASS_{c}": n for c, n in zip(classes.codes, classes.names)})
    dst.update_tags(GEOPIX_CLASSES=json.dumps(classes.to_dict()["classes"]))


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
def _writing(out: Path) -> Iterator[None]:
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


def _run_pipeline(src_path: str, dst: Any, plan: MosaicPlan, cfg: MosaicConfig, masked: bool,
                  predict: Predict, progress: Callable[[int], None] | None,
                  pyramid: OverviewPyramid | None) -> None:
    reader = _Reader(src_path, plan, cfg)
    writer = _Writer(src_path, dst, cfg, masked, pyramid)
    blender = RowBlender(plan, cfg.out_stats.bands)  # a class table: one channel per class
    n_rows = len(plan.row_starts)
    try:
        with ThreadPoolExecutor(1, "geopix-read") as rpool, ThreadPoolExecutor(1, "geopix-write") as wpool:
            pending: Future[np.ndarray] = rpool.submit(reader.row_tiles, 0)
            writes: list[Future[None]] = []
            for k in range(n_rows):
                tiles = pending.result()
                if k + 1 < n_rows:
                    pending = rpool.submit(reader.row_tiles, k + 1)  # read ahead during compute
                blend_tile_row(tiles, predict, cfg.in_stats, cfg.batch_size, blender)
                for row, values in blender.finished():
                    writes.append(wpool.submit(writer.write, row, values))
                while writes and (writes[0].done() or len(writes) > MAX_PENDING_WRITES):
                    writes.pop(0).result()  # surface write errors (disk full...) early; bound the queue
                if progress is not None:
                    progress(len(tiles))
            for w in writes:
                w.result()
            wpool.submit(writer.close_rows).result()
    finally:
        reader.close()
        writer.close()
