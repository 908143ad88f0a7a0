"""The mosaicker: a whole raster through a predict function, out as a Cloud Optimized GeoTIFF.

It knows no network, nor how one takes its input: it takes ``predict(tiles, valid) -> tiles`` on
normalised float32 arrays, ``valid`` the tiles' ``(n, 1, T, T)`` validity where the input has
pixels to mask (None where it has none); the model side fills the masked pixels before its
generator reads them (:func:`~geo_pix2pix.models.prefill.fill_masked_input`).

The raster runs through the streaming pipeline (:mod:`.pipeline`, which says what each thread
does): tiles read in the source's own dtype (a quarter of float32's memory for bytes), normalised
and predicted batch by batch, blended (:class:`~.blend.RowBlender`), turned into output values,
masked like the input, and written to the output sink (:mod:`.cog`: a streamed COG with its
overviews, or one shard's part). The output has exactly the input's CRS, transform and size, and
its bands say what they hold (:meth:`~.metadata.BandMetadata.of_values`).

With a shard (:mod:`.shard`) only that shard's tile rows run, and only its rows are written, into
a part that :func:`~.merge.merge_parts` puts together with the others.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from geo_pix2pix.tiles.atomic import check_output, remove_stale_partials
from geo_pix2pix.tiles.encoding.classes import ClassTable, PalettedOutput, ProbabilityOutput
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.mosaic.blend import MosaicPlan, RowBlender, plan_mosaic
from geo_pix2pix.tiles.mosaic.cog import StreamSpec, cog_options, cog_stream, part_file
from geo_pix2pix.tiles.mosaic.metadata import BandMetadata
from geo_pix2pix.tiles.mosaic.pipeline import CHUNK_COLUMNS, TileReader, run_pipeline
from geo_pix2pix.tiles.mosaic.shard import Shard, shard_rows
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["MosaicConfig", "MosaicResult", "mosaic_raster", "blend_tile_row", "Predict", "SHARD_TAG"]

log = logging.getLogger(__name__)

#: ``predict(tiles, valid)``: normalised ``(n, C, T, T)`` float32 and their ``(n, 1, T, T)`` bool
#: validity (None: every pixel valid) -> ``(n, C_out, T, T)``.
Predict = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]

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
    out_stats: BandStats | ClassTable | PalettedOutput | ProbabilityOutput
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


def blend_tile_row(tiles: np.ndarray, predict: Predict, in_stats: BandStats | ClassTable, batch_size: int,
                   blender: RowBlender, valid: np.ndarray | None = None) -> None:
    """Normalise one tile row's raw tiles, predict them batch by batch (with their validity
    ``valid``, None: all valid) and blend each batch in.

    In-memory prediction runs it, and :class:`_Translate` does for a raster what it does for a
    tile row, so a raster and the same values as an array give the same pixels.
    """
    for i in range(0, len(tiles), batch_size):  # blended batch by batch: no row of predictions
        part = None if valid is None else valid[i:i + batch_size]
        blender.add_tiles(predict(in_stats.normalize(tiles[i:i + batch_size]), part))
    blender.end_row()


class _Translate:
    """The :class:`~.pipeline.TileJob` of a translation: every tile, in batches of ``batch_size``
    from the left of each tile row, normalised and predicted as :func:`blend_tile_row` does."""

    def __init__(self, network: Predict, cfg: MosaicConfig, n_cols: int) -> None:
        self.network, self.cfg, self.n_cols = network, cfg, n_cols

    def batches(self, k: int) -> list[list[int]]:
        bs = self.cfg.batch_size
        return [list(range(i, min(i + bs, self.n_cols))) for i in range(0, self.n_cols, bs)]

    def predict(self, k: int, cols: list[int], tiles: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        return self.network(self.cfg.in_stats.normalize(tiles), valid)


class _Values:
    """The :class:`~.pipeline.Output` of a translation: predictions as output values, masked like
    the input (the nodata value where it has one, else the output's internal mask)."""

    def __init__(self, src_path: str, cfg: MosaicConfig, masked: bool) -> None:
        self.src = open_raster(src_path)
        self.cfg, self.masked = cfg, masked
        self.floating = np.issubdtype(np.dtype(self.src.dtypes[0]), np.floating)

    def block(self, row: int, col: int, values: np.ndarray) -> np.ndarray:
        return self.cfg.out_stats.denormalize(values)

    def strip(self, row: int, data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if not self.masked:
            return data, None
        n, width = data.shape[1], data.shape[2]
        mask = np.empty((n, width), bool)
        for c in range(0, width, CHUNK_COLUMNS):  # a few columns at a time: float inputs are read whole
            window = Window(c, row, min(CHUNK_COLUMNS, width - c), n)
            m = self.src.dataset_mask(window=window) > 0
            if self.floating:
                m &= np.isfinite(self.src.read(self.cfg.bands, window=window)).all(axis=0)
            mask[:, c:c + window.width] = m
        nodata = self.cfg.out_stats.nodata
        if nodata is None:
            return data, mask
        # codes and measured values: the nodata value marks what the input lacks
        return np.where(mask[None], data, np.asarray(nodata, data.dtype)), None

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
                      profile["transform"])
    meta = BandMetadata.of_values(cfg.out_stats, spec.count, cfg.tags)
    if shard is None:
        with cog_stream(out, spec, options, masked, meta) as sink:
            _run(src_path, sink, plan, cfg, masked, predict, progress, range(len(plan.row_starts)))
        return MosaicResult(out, plan.n_tiles, width, height, masked)
    rows = shard_rows(plan, shard)
    record = {"index": shard.index, "count": shard.count, "rows": list(rows.rows), "job": job,
              "width": width, "height": height, "transform": list(spec.transform)[:6],
              "crs": spec.crs.to_wkt() if spec.crs else None, "tile": cfg.tile, "overlap": cfg.overlap,
              "masked": masked, "options": options}
    r0, r1 = rows.rows
    with part_file(out, spec, r0, r1 - r0, meta.with_tags(**{SHARD_TAG: json.dumps(record)})) as sink:
        _run(src_path, sink, plan, cfg, masked, predict, progress, range(rows.first_tile_row, rows.tile_rows[1]))
    return MosaicResult(out, (rows.tile_rows[1] - rows.first_tile_row) * len(plan.col_starts), width, r1 - r0,
                        masked)


def _run(src_path: str, sink: Any, plan: MosaicPlan, cfg: MosaicConfig, masked: bool, predict: Predict,
         progress: Callable[[int], None] | None, rows: range) -> None:
    """Tile rows ``rows`` through ``predict`` into ``sink`` (rows above ``sink.row0``: a shard's
    halo, blended, not written)."""
    reader = TileReader(src_path, plan, cfg.bands, masks=masked)
    try:
        values = _Values(src_path, cfg, masked)
        try:
            blender = RowBlender(plan, cfg.out_stats.bands, rows[0])  # a class table: one channel per class
            run_pipeline(reader, _Translate(predict, cfg, len(plan.col_starts)), values, sink, blender, rows,
                         progress)
        finally:
            values.close()
    finally:
        reader.close()
