"""The mosaicker: a whole raster through a predict function, out as a Cloud Optimized GeoTIFF.

It knows no network: it takes ``predict(tiles) -> tiles`` on normalised float32 arrays.

Pipeline (three threads, each with its own GDAL handle, since a dataset must not be shared
across threads): a *reader* reads the source rows of tile row ``k + 1`` in one windowed read,
reflects them into the padded frame and cuts tiles, in the source's own dtype (a quarter of the
memory of float32 for bytes: a tile row of an 8192-pixel-wide raster is 9 MB, not 35), while the
*main* thread normalises and runs ``predict`` batch by batch on tile row ``k`` and blends each
batch (:class:`~.blend.RowBlender`); a *writer* turns finished rows into output values, applies
the input's mask and hands them to the output sink (:mod:`.cog`: a streamed COG with its
overviews, or one shard's part). The output has exactly the input's CRS, transform and size.

With a shard (:mod:`.shard`) only that shard's tile rows run, and only its rows are written, into
a part that :func:`~.merge.merge_parts` puts together with the others.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.windows import Window

from geo_pix2pix.tiles.atomic import check_output, remove_stale_partials
from geo_pix2pix.tiles.encoding.classes import ClassTable
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.mosaic.blend import MosaicPlan, RowBlender, plan_mosaic
from geo_pix2pix.tiles.mosaic.cog import RowSink, StreamSpec, StripBuffer, cog_options, cog_stream, part_file
from geo_pix2pix.tiles.mosaic.shard import Shard, ShardRows, shard_rows
from geo_pix2pix.tiles.raster import open_raster, reading

__all__ = ["MosaicConfig", "MosaicResult", "mosaic_raster", "blend_tile_row", "Predict", "SHARD_TAG", "TileReader"]

log = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], np.ndarray]

#: Finished row blocks waiting for the writer thread; past this the main thread waits, so a slow
#: disk cannot pile float32 rows up in memory.
MAX_PENDING_WRITES = 2
#: Tag of a shard's part: JSON of what :func:`~.merge.merge_parts` checks before it merges.
SHARD_TAG = "GEOPIX_SHARD"


@dataclass(frozen=True)
class MosaicConfig:
    """How to mosaic.

    Attributes:
        bands: 1-based input bands fed to ``predict``.
        in_stats / out_stats: normalisation of input values and of predictions (a
            :class:`~.classes.ClassTable` for class rasters: probabilities are blended, codes written).
        tile / overlap: tiling of the padded frame.
        batch_size: tiles per ``predict`` call.
        creation_options: GDAL COG creation options (override :data:`~.cog.DEFAULT_COG_OPTIONS`).
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


class TileReader:
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
    """Writes finished rows (denormalised, masked like the input) into the output sink.

    Rows arrive in blocks of the tile stride and are written in whole strips (:class:`~.cog.StripBuffer`).
    """

    def __init__(self, src_path: str, sink: RowSink, cfg: MosaicConfig, masked: bool) -> None:
        self.src = open_raster(src_path)
        self.sink, self.cfg, self.masked = sink, cfg, masked
        self._strips = StripBuffer(sink.row0, self._flush)

    def write(self, row: int, values: np.ndarray) -> None:
        self._strips.add(row, self.cfg.out_stats.denormalize(values))

    def close_rows(self) -> None:
        """Write what is left (the last, partial strip)."""
        self._strips.close()

    def _flush(self, row: int, data: np.ndarray) -> None:
        window = Window(0, row, data.shape[2], data.shape[1])
        nodata = self.cfg.out_stats.nodata
        mask = None
        if self.masked:
            mask = self.src.dataset_mask(window=window) > 0
            if np.issubdtype(np.dtype(self.src.dtypes[0]), np.floating):
                data_in = self.src.read(self.cfg.bands, window=window)
                mask &= np.isfinite(data_in).all(axis=0)
            if nodata is not None:  # codes and measured values: the nodata value marks what the input lacks
                data = np.where(mask[None], data, np.asarray(nodata, data.dtype))
        self.sink.write(data, row, mask if nodata is None else None)

    def close(self) -> None:
        self.src.close()


def mosaic_raster(
    src_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    predict: Predict,
    cfg: MosaicConfig,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    shard: Shard | None = None,
    job: str = "",
) -> MosaicResult:
    """Translate ``src_path`` tile by tile through ``predict`` into the COG ``out_path``.

    Args:
        progress: called with the number of tiles finished since the last call.
        shard: write only this shard's rows, into the GeoTIFF part ``out_path``
            (:mod:`.shard`); ``job`` identifies the translation its parts belong to (the merge
            refuses parts of different jobs).

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
    classes: ClassTable | None = getattr(cfg.out_stats, "class_table", None)
    options = cog_options(classes is not None, cfg.creation_options)
    spec = StreamSpec(width, height, cfg.out_stats.out_bands, cfg.out_stats.dtype, profile.get("crs"),
                      profile["transform"], cfg.out_stats.nodata)

    def describe(dst: Any) -> None:
        _describe_output(dst, cfg.out_stats, spec.count)
        dst.update_tags(**cfg.tags)

    if shard is None:
        with cog_stream(out, spec, options, masked, describe) as sink:
            _run_pipeline(src_path, sink, plan, cfg, masked, predict, progress)
        return MosaicResult(out, plan.n_tiles, width, height, masked)
    rows = shard_rows(plan, shard)
    record = {"index": shard.index, "count": shard.count, "rows": list(rows.rows), "job": job,
              "width": width, "height": height, "transform": list(spec.transform)[:6],
              "crs": spec.crs.to_wkt() if spec.crs else None, "tile": cfg.tile, "overlap": cfg.overlap,
              "masked": masked, "options": options}

    def describe_part(dst: Any) -> None:
        describe(dst)
        dst.update_tags(**{SHARD_TAG: json.dumps(record)})

    r0, r1 = rows.rows
    with part_file(out, spec, r0, r1 - r0, describe_part) as sink:
        _run_pipeline(src_path, sink, plan, cfg, masked, predict, progress, rows)
    k0, k1 = rows.tile_rows
    return MosaicResult(out, (k1 - rows.first_tile_row) * len(plan.col_starts), width, r1 - r0, masked)


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


def _run_pipeline(src_path: str, sink: RowSink, plan: MosaicPlan, cfg: MosaicConfig, masked: bool,
                  predict: Predict, progress: Callable[[int], None] | None,
                  shard: ShardRows | None = None) -> None:
    """Tile rows through ``predict`` into ``sink``: all of them, or a shard's (its halo rows
    blended, their own rows not written)."""
    reader = TileReader(src_path, plan, cfg)
    writer = _Writer(src_path, sink, cfg, masked)
    first, end = (shard.first_tile_row, shard.tile_rows[1]) if shard else (0, len(plan.row_starts))
    r0 = shard.rows[0] if shard else 0
    blender = RowBlender(plan, cfg.out_stats.bands, first)  # a class table: one channel per class
    try:
        with ThreadPoolExecutor(1, "geopix-read") as rpool, ThreadPoolExecutor(1, "geopix-write") as wpool:
            pending: Future[np.ndarray] = rpool.submit(reader.row_tiles, first)
            writes: list[Future[None]] = []
            for k in range(first, end):
                tiles = pending.result()
                if k + 1 < end:
                    pending = rpool.submit(reader.row_tiles, k + 1)  # read ahead during compute
                blend_tile_row(tiles, predict, cfg.in_stats, cfg.batch_size, blender)
                for row, values in blender.finished():
                    if row + values.shape[1] <= r0:
                        continue  # the halo: rows of the shard above
                    if row < r0:
                        values, row = values[:, r0 - row:], r0
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
