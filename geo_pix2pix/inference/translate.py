"""Translating a region with a trained model: checks against the model file, then the mosaicker.

Everything comes from the model file: input/output bands, normalisation, tile size, direction.
The region is checked against it (band count, dtype) before any work, and a pixel size far from
the training imagery's is reported, since a model learns features at one ground resolution.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from geo_pix2pix._version import __version__
from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.files.onnx_metadata import file_sha256
from geo_pix2pix.inference.predict import TTA_TRANSFORMS, Predictor
from geo_pix2pix.inference.run_options import ModelOptions, OutputOptions, TilingOptions, TranslateOptions
from geo_pix2pix.inference.style import choose_style
from geo_pix2pix.inference.tiling import MIN_DEFAULT_TILE, check_tile, choose_tiling, default_tile
from geo_pix2pix.tiles.atomic import check_output
from geo_pix2pix.tiles.encoding.classes import ClassTable, ProbabilityOutput
from geo_pix2pix.tiles.errors import BandError, GeopixError
from geo_pix2pix.tiles.mosaic.blend import plan_mosaic
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, MosaicResult, mosaic_raster
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["TranslateConfig", "translate", "check_region", "check_tile", "choose_tiling", "default_tile",
           "MIN_DEFAULT_TILE", "CONTENT_SHIFT_WARN", "CONTENT_SHIFT_REFUSE"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslateConfig(TranslateOptions, OutputOptions, TilingOptions, ModelOptions):
    """Settings of one translation: the option groups of :mod:`geo_pix2pix.inference.run_options`
    (the model and its device, the tiling, the output, translate's own), each field documented
    where it is declared. ``tile`` defaults to :func:`default_tile`."""


def check_region(region: str, meta: ModelMeta, bands: tuple[int, ...] | None = None, force: bool = False
                 ) -> tuple[tuple[int, ...], list[str]]:
    """Refuse a region the model cannot read; return the bands to read and warnings for doubts.

    Refused: bands the model cannot read (:func:`_region_bands`), values of another dtype or class
    codes it does not know, and, unless ``force``, band means beyond :data:`CONTENT_SHIFT_REFUSE`
    (the other side of a pair: a map given to a satellite -> map model). Doubted: a pixel size far
    from the training imagery's (a model learns features at one ground resolution) and band means
    beyond :data:`CONTENT_SHIFT_WARN`.
    """
    with open_raster(region, "region") as src:
        bands = _region_bands(src, region, meta, bands)
        _check_values(src, region, meta, bands)
        warnings = [*_pixel_size_doubt(src, meta), *_content_doubt(src, region, meta, bands, force)]
    return bands, warnings


def _region_bands(src: Any, region: str, meta: ModelMeta, bands: tuple[int, ...] | None) -> tuple[int, ...]:
    """The region's bands to read: ``bands`` if given (as many as the model reads, all present),
    else the model's input bands. Extra bands are never used silently: a region with more bands
    (alpha aside) than the training input had must name the ones to read, in the model's order."""
    from geo_pix2pix.tiles.raster import default_bands

    want = ",".join(map(str, meta.input_bands))
    if bands is not None:
        if len(bands) != len(meta.input_bands):
            raise BandError(f"--bands names {len(bands)} band(s) but the model reads {len(meta.input_bands)} "
                            f"(bands {want} of its training input)")
        if max(bands) > src.count or min(bands) < 1:
            raise BandError(f"--bands {','.join(map(str, bands))}: region {region} has bands 1..{src.count}")
        return bands
    if src.count < max(meta.input_bands):
        raise BandError(f"region {region} has {src.count} band(s) but the model reads bands {want} (trained on "
                        f"{len(meta.input_bands)}-band input)")
    side = "imagery_count" if meta.direction == "sat2map" else "map_count"
    trained = int(meta.pairs[0].get(side) or len(meta.input_bands)) if meta.pairs else len(meta.input_bands)
    have = len(default_bands(src))
    if have > trained and _reads_codes(meta):
        raise BandError(f"region {region} has {have} bands and looks like imagery, but this model paints imagery from "
                        f"a class layout: {_layout_advice(meta.input_stats, region)}")  # type: ignore[arg-type]
    if have > trained:
        raise BandError(f"region {region} has {have} bands but the model was trained on {trained}-band input and "
                        f"reads bands {want}; name the region's bands to read, in that order, with --bands "
                        f"(e.g. --bands {want})")
    return tuple(meta.input_bands)


def _check_values(src: Any, region: str, meta: ModelMeta, bands: tuple[int, ...]) -> None:
    """Refuse values of another dtype than the training input's (class codes come in any dtype,
    but must be codes the model knows)."""
    stats = meta.input_stats
    if isinstance(stats, ClassTable):
        if not stats.rgb_colors:
            _check_codes(src, bands[0], stats, region)
        return
    dtype = src.dtypes[bands[0] - 1]
    if dtype != stats.dtype:
        raise GeopixError(
            f"region {region} is {dtype} but the model was trained on {stats.dtype} input; rescale it to the "
            f"training range (e.g. gdal_translate -ot {stats.dtype} -scale SRC_MIN SRC_MAX DST_MIN DST_MAX, with "
            "the source and training value ranges) or train on data of this type")


def _pixel_size_doubt(src: Any, meta: ModelMeta) -> list[str]:
    """A warning when the region's pixels are over 2x larger or smaller than the training imagery's
    (compared only in the same linear units)."""
    if src.crs is None or not meta.pairs:
        return []
    p0 = meta.pairs[0]
    train_px = float(p0["pixel_size"][0])
    same_units = p0.get("crs") and _linear_units(p0["crs"]) == _linear_units(src.crs.to_wkt())
    if not same_units or train_px <= 0:
        return []
    ratio = abs(src.res[0]) / train_px
    if 0.5 <= ratio <= 2:
        return []
    return [f"the region's pixel size ({abs(src.res[0]):.4g}) differs from the training imagery's ({train_px:.4g}) "
            f"by {max(ratio, 1 / ratio):.1f}x; results may be poor"]


def _content_doubt(src: Any, region: str, meta: ModelMeta, bands: tuple[int, ...], force: bool) -> list[str]:
    """A warning when the region's band means lie beyond :data:`CONTENT_SHIFT_WARN`; a refusal
    beyond :data:`CONTENT_SHIFT_REFUSE` unless ``force``."""
    shift = _content_shift(src, meta, bands)
    if shift is None or shift <= CONTENT_SHIFT_WARN:
        return []
    side, other = ("imagery", "a map") if meta.direction == "sat2map" else ("maps", "imagery")
    if shift > CONTENT_SHIFT_REFUSE and not force:
        raise GeopixError(f"region {region} looks like {other}, not {side}: its band means lie {shift:.1f} standard "
                          f"deviations from the training {side}'s (rasters of the same kind lie within "
                          f"{CONTENT_SHIFT_WARN:g}) and this model translates {meta.direction}; give it {side} like "
                          "its training input, or pass --force to translate this region anyway")
    return [f"the region's band means lie {shift:.1f} standard deviations from the training {side}'s (bands "
            f"{','.join(map(str, meta.input_bands))}); is it the kind of raster the model translates "
            f"({meta.direction})? Results may be poor"]


def _check_codes(src: Any, band: int, table: ClassTable, region: str) -> None:
    """Refuse a class layout holding codes that are not among the model's classes, naming them
    (read decimated, nearest, as training reads a map's codes: a code on a handful of pixels of a
    huge raster may go unnoticed and is then read as nodata)."""
    from geo_pix2pix.tiles.encoding.normalize import sample_shape

    shape = sample_shape(src.height, src.width)
    codes = src.read(band, out_shape=shape)
    valid = src.dataset_mask(out_shape=shape) > 0
    unknown = table.unknown_codes(codes[valid & np.isfinite(codes)])
    if len(unknown) > len(table.codes):  # hundreds of "codes": values of an image, not a layout
        raise GeopixError(f"region {region} holds {len(unknown)} values that are no class of the model "
                          f"({_listed(unknown)}): it looks like imagery, but this model paints imagery from a "
                          f"class layout: {_layout_advice(table, region)}")
    if unknown:
        known = ", ".join(f"{c} {n}" for c, n in zip(table.codes, table.names, strict=True))
        raise GeopixError(f"region {region} holds class code(s) {_listed(unknown)} that the model does not "
                          f"know (its classes: {known}); recode them or mark them nodata")


def _listed(codes: list[Any], most: int = 10) -> str:
    """At most ``most`` codes, then how many there are in all."""
    head = ", ".join(map(str, codes[:most]))
    return head if len(codes) <= most else f"{head}... {len(codes)} in all"


def _reads_codes(meta: ModelMeta) -> bool:
    """Whether the model's input is a class layout of codes (SPADE, map2sat on a class map)."""
    return isinstance(meta.input_stats, ClassTable) and not meta.input_stats.rgb_colors


def _layout_advice(table: ClassTable, region: str) -> str:
    """What a model that reads a class layout takes, and how to make one from vector layers."""
    known = ", ".join(f"{c} {n}" for c, n in zip(table.codes, table.names, strict=True))
    name = next((n for n in table.names if n != "background"), "CLASS")
    return (f"give one band of its class codes ({known}), or vector layers burnt onto the region's grid: "
            f"geopix translate --layout {name}=LAYER.gpkg --like {region} OUT")


#: Warn when a region's band means lie further than this many training standard deviations from
#: the training input's (:func:`~geo_pix2pix.tiles.encoding.normalize.content_shift`). Measured on the real
#: pairs in bench/README.md: other regions of the same kind lie well within it, the other side of
#: a pair (a map given to a satellite -> map model and the reverse) well beyond it.
CONTENT_SHIFT_WARN = 2.0
#: Refuse (unless ``--force``) beyond this many: on the same real pairs the other side of a pair
#: lies at least 3.4 deviations away and other regions of the same kind at most 1.5, so 3 refuses
#: every wrong-side raster measured while leaving room for same-kind rasters beyond the warning.
CONTENT_SHIFT_REFUSE = 3.0
#: Side of the decimated read the content check looks at (the whole region, coarsely).
_CONTENT_SAMPLE = 256


def _content_shift(src: Any, meta: ModelMeta, bands: tuple[int, ...]) -> float | None:
    """How far the region's band means lie from the training input's, in standard deviations, from
    a decimated read. The read runs under the streaming writers' GDAL block-cache cap: decimating a
    raster without overviews reads every block at full resolution, and GDAL's default cache (5% of
    RAM) would keep a wide raster's blocks for the rest of the translation."""
    import rasterio

    from geo_pix2pix.tiles.encoding.normalize import BandStats, content_shift
    from geo_pix2pix.tiles.mosaic.cog import GDAL_CACHE_BYTES
    from geo_pix2pix.tiles.raster import reading, valid_mask

    if not isinstance(meta.input_stats, BandStats):
        return None  # class codes have no means to compare

    factor = max(1, -(-max(src.height, src.width) // _CONTENT_SAMPLE))
    shape = (max(1, src.height // factor), max(1, src.width // factor))
    with reading(src.name, "region"), rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES):
        sample = src.read(bands, out_shape=(len(bands), *shape))
        valid = valid_mask(sample, src.dataset_mask(out_shape=shape))
    return content_shift(meta.input_stats, sample, valid)


def output_codec(meta: ModelMeta, dtype: str | None, palette: str | None = None) -> Any:
    """The model's output encoding, written as ``dtype`` if given (measured values only), or as
    the classes of ``palette`` (rendered RGB maps)."""

    from geo_pix2pix.tiles.encoding.classes import PalettedOutput
    from geo_pix2pix.tiles.encoding.normalize import BandStats

    out = meta.output_stats
    if palette is not None:
        from geo_pix2pix.evaluation.palette import load_palette

        if dtype is not None or not isinstance(out, BandStats) or out.bands != 3 or out.dtype != "uint8":
            raise GeopixError("--palette turns a model's RGB map into classes; this model writes "
                              f"{meta.map_kind} output" + (" (and --output-dtype does not apply)" if dtype else ""))
        return PalettedOutput(out, load_palette(palette).class_table())
    if dtype is None or (isinstance(out, BandStats) and dtype == out.dtype):
        return out
    if not isinstance(out, BandStats) or out.method != "robust":
        raise GeopixError(f"--output-dtype applies to measured-value (continuous) outputs; this model writes "
                          f"{meta.map_kind if meta.direction == 'sat2map' else 'imagery'} as {out.dtype}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise GeopixError(f"--output-dtype {dtype}: not a numeric dtype (uint8, uint16, int16, int32, "
                          "float32...)") from None
    nodata = out.nodata
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        if nodata is None or nodata != nodata or not (info.min <= nodata <= info.max) or not float(nodata).is_integer():
            nodata = float(info.max if info.min == 0 else info.min)  # outside the usual values
    return dataclasses.replace(out, dtype=dt.name, nodata=nodata)


def _linear_units(wkt: str) -> str | None:
    from rasterio.crs import CRS

    try:
        return cast(str, CRS.from_wkt(wkt).linear_units)
    except Exception:
        return None


def translate(region: str | os.PathLike[str], out: str | os.PathLike[str], cfg: TranslateConfig,
              progress: Callable[[int, int], None] | None = None,
              predictor: Predictor | None = None) -> tuple[MosaicResult, Predictor]:
    """Translate ``region`` into the georeferenced raster ``out``.

    ``progress(tiles_done, tiles_total)``: called after each row of tiles (the total counts both
    passes when ``cfg.probabilities`` asks for a second one).
    ``predictor``: an already loaded model (its own ``tta`` setting applies) instead of ``cfg.model``.
    """
    pred = predictor or Predictor(cfg.model, cfg.device, cfg.amp, cfg.tta)
    meta = pred.meta
    if meta.family == "inpaint":
        raise GeopixError(f"{pred.path} is an inpainting model: it fills holes (geopix inpaint), it does not "
                          "translate")
    bands, warnings = check_region(str(region), meta, cfg.bands, force=cfg.force)
    for w in warnings:
        log.warning(w)
    out_stats = output_codec(meta, cfg.output_dtype, cfg.palette)
    if cfg.probabilities is not None:
        _check_probabilities(cfg, cfg.probabilities, meta, [str(region), str(out)])
    with open_raster(str(region), "region") as src:
        height, width = src.height, src.width
    tile, overlap = choose_tiling(pred, height, width, cfg.tile, cfg.overlap, cfg.batch_size)
    style = choose_style(pred.G, meta, pred.plan.device, cfg.style, cfg.seed)
    mcfg = MosaicConfig(bands=bands, in_stats=meta.input_stats, out_stats=out_stats, tile=tile, overlap=overlap,
                        batch_size=cfg.batch_size, creation_options=dict(cfg.creation_options),
                        tags=output_tags(pred, cfg, style is not None))

    def run(batch: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        return pred(batch, style, valid)

    counter = None if progress is None else _counter(progress, cfg, plan_mosaic(height, width, tile, overlap))
    if cfg.probabilities is not None:
        if not isinstance(meta.output_stats, ClassTable):  # pragma: no cover - refused by _check_probabilities
            raise GeopixError("--probabilities needs a model that writes classes (a categorical map)")
        pcfg = dataclasses.replace(mcfg, out_stats=ProbabilityOutput(meta.output_stats),
                                   tags={**mcfg.tags, "GEOPIX_OUTPUT": "class probabilities"})
        mosaic_raster(region, cfg.probabilities, run, pcfg, overwrite=cfg.overwrite, progress=counter)
    job = job_id(pred, cfg, mcfg) if cfg.shard is not None else ""
    return mosaic_raster(region, out, run, mcfg, overwrite=cfg.overwrite, progress=counter, shard=cfg.shard,
                         job=job), pred


def _check_probabilities(cfg: TranslateConfig, probabilities: str, meta: ModelMeta,
                         others: list[str | os.PathLike[str]]) -> None:
    """Refuse ``--probabilities`` where it cannot be written: a sharded translate (the second pass
    would be split too), a model that writes no classes, or a file that exists or is an input."""
    if cfg.shard is not None:
        raise GeopixError("--probabilities is written by an unsharded translate; translate the shards "
                          "without it (or run the probabilities as a job of their own)")
    if not isinstance(meta.output_stats, ClassTable) or cfg.palette:
        raise GeopixError("--probabilities needs a model that writes classes (a categorical map)")
    check_output(probabilities, others, cfg.overwrite)


def output_tags(pred: Predictor, cfg: TranslateConfig, styled: bool) -> dict[str, str]:
    """The ``GEOPIX_*`` tags of a translation: which model (file, step, family, generator), which
    direction and map kind, which geopix, and how it was run (TTA, style)."""
    meta = pred.meta
    tags = {"GEOPIX_MODEL": str(pred.path.resolve()), "GEOPIX_STEP": str(meta.step),
            "GEOPIX_DIRECTION": meta.direction, "GEOPIX_VERSION": __version__,
            "GEOPIX_GENERATOR": meta.generator.name, "GEOPIX_FAMILY": meta.family, "GEOPIX_MAP_KIND": meta.map_kind}
    if pred.tta:
        tags["GEOPIX_TTA"] = f"mean of {TTA_TRANSFORMS} rotations/mirrors"
    if styled:
        tags["GEOPIX_STYLE"] = f"reference {cfg.style}" if cfg.style else f"random, seed {cfg.seed}"
    return tags


def _counter(progress: Callable[[int, int], None], cfg: TranslateConfig, plan: Any) -> Callable[[int], None]:
    """``progress`` fed with the tiles this translation runs: the whole plan once per pass, or a
    shard's tile rows."""
    from geo_pix2pix.runtime.progress import counting

    total = plan.n_tiles * (2 if cfg.probabilities is not None else 1)
    if cfg.shard is not None:
        from geo_pix2pix.tiles.mosaic.shard import shard_rows

        rows = shard_rows(plan, cfg.shard)
        total = (rows.tile_rows[1] - rows.first_tile_row) * len(plan.col_starts)
    return counting(progress, total)


def job_id(pred: Predictor, cfg: TranslateConfig, mcfg: MosaicConfig) -> str:
    """What identifies one sharded translation's parts: a hash of the model file's bytes and of every
    setting that changes a pixel (bands, tiling, batch, precision, output coding, style, COG options).
    Paths do not enter it (the nodes of a cluster may mount the model elsewhere); file contents do."""
    import hashlib
    import json

    what = {
        "model": file_sha256(pred.path), "bands": list(mcfg.bands), "tile": mcfg.tile, "overlap": mcfg.overlap,
        "batch": mcfg.batch_size, "amp": str(pred.plan.amp_dtype), "tta": pred.tta, "dtype": cfg.output_dtype,
        "palette": file_sha256(cfg.palette) if cfg.palette else None,
        "style": file_sha256(cfg.style) if cfg.style else None, "seed": cfg.seed,
        "options": sorted(mcfg.creation_options.items()),
        "tags": sorted((k, v) for k, v in mcfg.tags.items() if k != "GEOPIX_MODEL"),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]
