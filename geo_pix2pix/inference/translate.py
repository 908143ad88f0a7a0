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
from typing import Any

import numpy as np

from geo_pix2pix._version import __version__
from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.inference.predict import TTA_TRANSFORMS, Predictor
from geo_pix2pix.inference.style import choose_style
from geo_pix2pix.tiles.atomic import check_output
from geo_pix2pix.tiles.encoding.classes import ClassTable, ProbabilityOutput
from geo_pix2pix.tiles.errors import BandError, GeopixError, TileSizeError
from geo_pix2pix.tiles.mosaic.blend import plan_mosaic
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicConfig, MosaicResult, mosaic_raster
from geo_pix2pix.tiles.mosaic.shard import Shard
from geo_pix2pix.tiles.raster import open_raster

__all__ = ["TranslateConfig", "translate", "check_region", "check_tile", "choose_tiling", "default_tile",
           "CONTENT_SHIFT_WARN"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslateConfig:
    """Settings of one translation.

    Attributes:
        model: run directory or model file.
        tile: tile side in pixels (default: :func:`default_tile`). The generators are fully
            convolutional, so any multiple of the generator's stride product works: larger tiles
            give every pixel more context and cost less blending per pixel.
        overlap: overlap of neighbouring tiles (default: a quarter of the tile).
        batch_size: tiles per forward pass.
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps``.
        amp: mixed precision where the device computes it natively (see :mod:`geo_pix2pix.runtime.device`).
        creation_options: GDAL COG creation options.
        overwrite: replace an existing output.
        tta: average each tile's output over its 8 rotations/mirrors (8x the compute; see
            :class:`~geo_pix2pix.inference.predict.Predictor`).
        bands: 1-based bands of the region to read, in the model's order (default: the model's
            input bands; required when the region has more bands than the training input had).
        output_dtype: dtype of a measured-value (continuous) output (default float32), e.g.
            ``uint16`` for a DEM; values are rounded and kept in the dtype's range.
        palette: palette JSON: write an RGB model's map as classes (each pixel the code of its
            nearest palette colour, the palette as colour table).
        probabilities: also write a class model's per-class probabilities to this float32 COG
            (one band per class, named after it). It is a second pass over the region: twice the
            compute, and exactly the scores whose arg-max the codes are.
        style: reference image whose style a SPADE model with a style encoder paints in.
        seed: draw the style of such a model at random with this seed (reproducible).
        Without ``style`` or ``seed`` the output is deterministic; either way one style is used for
        the whole raster (:mod:`geo_pix2pix.inference.style`).
        shard: write only this shard of the output, as a part for
            :func:`~geo_pix2pix.tiles.mosaic.merge.merge_parts` (:mod:`geo_pix2pix.tiles.mosaic.shard`).
    """

    model: str = "runs/latest"
    tile: int | None = None
    overlap: int | None = None
    batch_size: int = 8
    device: str = "auto"
    amp: bool = True
    creation_options: tuple[tuple[str, str], ...] = ()
    overwrite: bool = False
    tta: bool = False
    bands: tuple[int, ...] | None = None
    output_dtype: str | None = None
    palette: str | None = None
    probabilities: str | None = None
    style: str | None = None
    seed: int | None = None
    shard: Shard | None = None


#: Smallest tile translate picks by default. Models trained on small windows (the CPU recipe
#: trains on 64 pixels) translate better and faster on larger tiles: on the 8 held-out maps256
#: scenes a 64-pixel model scored the same at 64, 128 and 256 (road IoU 0.33/0.34/0.35 with the
#: first, mixed palette; L1 0.033 each), while 256-pixel tiles made a 2048x2048 translation 1.6x faster (a fifteenth of the
#: tiles, the same overlap fraction) and its tile boundaries less visible (seam ratio 1.03
#: against 1.10); see bench/README.md.
MIN_DEFAULT_TILE = 256


def default_tile(trained: int, height: int, width: int) -> int:
    """The tile translate uses when none is given.

    The smallest multiple of the training tile that is at least :data:`MIN_DEFAULT_TILE`, but no
    larger than the smallest multiple that covers the raster's longer side (a 64-pixel model gets
    256 on a large raster, 128 on a 100-pixel one). A multiple of the training tile is a valid
    tile for the generator, whose stride product divides the training tile.
    """
    k = max(1, -(-MIN_DEFAULT_TILE // trained))
    while k > 1 and (k - 1) * trained >= max(height, width):
        k -= 1
    return k * trained


def choose_tiling(pred: Predictor, height: int, width: int, tile: int | None = None,
                  overlap: int | None = None) -> tuple[int, int]:
    """The tile and overlap translate uses on a ``height x width`` region: the given ones, checked,
    or the defaults (:func:`default_tile`, a quarter of the tile)."""
    tile = default_tile(pred.meta.tile_size, height, width) if tile is None else tile
    if tile < 1:
        raise TileSizeError(f"the tile size must be positive, got {tile}")
    if overlap is not None and overlap >= tile:
        raise TileSizeError(f"--overlap ({overlap}) must be smaller than the tile size ({tile})")
    if overlap is not None and overlap < 0:
        raise TileSizeError(f"the overlap must be at least 0, got {overlap}")
    check_tile(pred, tile)
    return tile, tile // 4 if overlap is None else overlap


def check_tile(pred: Predictor, tile: int) -> None:
    """Refuse a tile side the generator cannot take (not a multiple of its stride product)."""
    multiple = int(getattr(pred.G, "multiple", 1))
    if tile % multiple:
        raise TileSizeError(f"this {pred.meta.generator.name} generator takes tiles in multiples of {multiple} "
                            f"pixels (trained on {pred.meta.tile_size}); --tile-size {tile} is not one")


def check_region(region: str, meta: ModelMeta, bands: tuple[int, ...] | None = None
                 ) -> tuple[tuple[int, ...], list[str]]:
    """Refuse a region the model cannot read; return the bands to read and warnings for doubts.

    Extra bands are never used silently: a region with more bands (alpha aside) than the
    training input had must name the ones to read (``bands``, ``--bands``), in the model's order.
    """
    from geo_pix2pix.tiles.raster import default_bands

    warnings = []
    want = ",".join(map(str, meta.input_bands))
    with open_raster(region, "region") as src:
        if bands is not None:
            if len(bands) != len(meta.input_bands):
                raise BandError(f"--bands names {len(bands)} band(s) but the model reads {len(meta.input_bands)} "
                                f"(bands {want} of its training input)")
            if max(bands) > src.count or min(bands) < 1:
                raise BandError(f"--bands {','.join(map(str, bands))}: region {region} has bands 1..{src.count}")
        else:
            need = max(meta.input_bands)
            if src.count < need:
                raise BandError(
                    f"region {region} has {src.count} band(s) but the model reads bands "
                    f"{want} (trained on {len(meta.input_bands)}-band input)"
                )
            side = "imagery_count" if meta.direction == "sat2map" else "map_count"
            trained = int(meta.pairs[0].get(side) or len(meta.input_bands)) if meta.pairs else len(meta.input_bands)
            have = len(default_bands(src))
            if have > trained:
                raise BandError(
                    f"region {region} has {have} bands but the model was trained on {trained}-band input and "
                    f"reads bands {want}; name the region's bands to read, in that order, with --bands "
                    f"(e.g. --bands {want})"
                )
            bands = tuple(meta.input_bands)
        dtype = src.dtypes[bands[0] - 1]
        codes_in = getattr(meta.input_stats, "kind", None) == "categorical"  # class codes come in any dtype
        if dtype != meta.input_stats.dtype and not codes_in:
            raise GeopixError(
                f"region {region} is {dtype} but the model was trained on {meta.input_stats.dtype} input; "
                f"rescale it to the training range (e.g. gdal_translate -ot {meta.input_stats.dtype} -scale SRC_MIN "
                "SRC_MAX DST_MIN DST_MAX, with the source and training value ranges) or train on data of this type"
            )
        if codes_in and not meta.input_stats.rgb_colors:
            _check_codes(src, bands[0], meta.input_stats, region)
        if src.crs is not None and meta.pairs:
            p0 = meta.pairs[0]
            train_px = float(p0["pixel_size"][0])
            same_units = p0.get("crs") and _linear_units(p0["crs"]) == _linear_units(src.crs.to_wkt())
            if same_units and train_px > 0:
                ratio = abs(src.res[0]) / train_px
                if ratio > 2 or ratio < 0.5:
                    warnings.append(
                        f"the region's pixel size ({abs(src.res[0]):.4g}) differs from the training imagery's "
                        f"({train_px:.4g}) by {max(ratio, 1 / ratio):.1f}x; results may be poor"
                    )
        shift = _content_shift(src, meta, bands)
        if shift is not None and shift > CONTENT_SHIFT_WARN:
            side = "imagery" if meta.direction == "sat2map" else "maps"
            warnings.append(
                f"the region's band means lie {shift:.1f} standard deviations from the training {side}'s "
                f"(bands {','.join(map(str, meta.input_bands))}); is it the kind of raster the model "
                f"translates ({meta.direction})? Results may be poor"
            )
    return bands, warnings


def _check_codes(src: Any, band: int, table: ClassTable, region: str) -> None:
    """Refuse a class layout holding codes that are not among the model's classes, naming them
    (read decimated, nearest, as training reads a map's codes: a code on a handful of pixels of a
    huge raster may go unnoticed and is then read as nodata)."""
    from geo_pix2pix.tiles.encoding.normalize import sample_shape

    shape = sample_shape(src.height, src.width)
    codes = src.read(band, out_shape=shape)
    valid = src.dataset_mask(out_shape=shape) > 0
    unknown = table.unknown_codes(codes[valid & np.isfinite(codes)])
    if unknown:
        known = ", ".join(f"{c} {n}" for c, n in zip(table.codes, table.names))
        raise GeopixError(f"region {region} holds class code(s) {', '.join(map(str, unknown))} that the model does not "
                          f"know (its classes: {known}); recode them or mark them nodata")


#: Warn when a region's band means lie further than this many training standard deviations from
#: the training input's (:func:`~geo_pix2pix.tiles.encoding.normalize.content_shift`). Measured on the real
#: pairs in bench/README.md: other regions of the same kind lie well within it, the other side of
#: a pair (a map given to a satellite -> map model and the reverse) well beyond it.
CONTENT_SHIFT_WARN = 2.0
#: Side of the decimated read the content check looks at (the whole region, coarsely).
_CONTENT_SAMPLE = 256


def _content_shift(src: Any, meta: ModelMeta, bands: tuple[int, ...]) -> float | None:
    from geo_pix2pix.tiles.encoding.normalize import BandStats, content_shift
    from geo_pix2pix.tiles.raster import reading, valid_mask

    if not isinstance(meta.input_stats, BandStats):
        return None  # class codes have no means to compare

    factor = max(1, -(-max(src.height, src.width) // _CONTENT_SAMPLE))
    shape = (max(1, src.height // factor), max(1, src.width // factor))
    with reading(src.name, "region"):
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
        raise GeopixError(f"--output-dtype {dtype}: not a numeric dtype (uint8, uint16, int16, int32, float32...)") from None
    nodata = out.nodata
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        if nodata is None or nodata != nodata or not (info.min <= nodata <= info.max) or not float(nodata).is_integer():
            nodata = float(info.max if info.min == 0 else info.min)  # outside the usual values
    return dataclasses.replace(out, dtype=dt.name, nodata=nodata)


def _linear_units(wkt: str) -> str | None:
    from rasterio.crs import CRS

    try:
        return CRS.from_wkt(wkt).linear_units
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
    bands, warnings = check_region(str(region), meta, cfg.bands)
    for w in warnings:
        log.warning(w)
    out_stats = output_codec(meta, cfg.output_dtype, cfg.palette)
    if cfg.probabilities is not None:
        if cfg.shard is not None:
            raise GeopixError("--probabilities is written by an unsharded translate; translate the shards "
                              "without it (or run the probabilities as a job of their own)")
        if not isinstance(meta.output_stats, ClassTable) or cfg.palette:
            raise GeopixError("--probabilities needs a model that writes classes (a categorical map)")
        check_output(cfg.probabilities, [str(region), str(out)], cfg.overwrite)
    with open_raster(str(region), "region") as src:
        height, width = src.height, src.width
    tile, overlap = choose_tiling(pred, height, width, cfg.tile, cfg.overlap)
    mcfg = MosaicConfig(
        bands=bands, in_stats=meta.input_stats, out_stats=out_stats, tile=tile,
        overlap=overlap, batch_size=cfg.batch_size, creation_options=dict(cfg.creation_options),
        tags={"GEOPIX_MODEL": str(pred.path.resolve()), "GEOPIX_STEP": str(meta.step),
              "GEOPIX_DIRECTION": meta.direction, "GEOPIX_VERSION": __version__,
              "GEOPIX_GENERATOR": meta.generator.name, "GEOPIX_FAMILY": meta.family,
              "GEOPIX_MAP_KIND": meta.map_kind,
              **({"GEOPIX_TTA": f"mean of {TTA_TRANSFORMS} rotations/mirrors"} if pred.tta else {})},
    )

    style = choose_style(pred.G, meta, pred.plan.device, cfg.style, cfg.seed)
    if style is not None:
        mcfg = dataclasses.replace(mcfg, tags={**mcfg.tags, "GEOPIX_STYLE": f"reference {cfg.style}" if cfg.style
                                               else f"random, seed {cfg.seed}"})

    def run(batch: np.ndarray) -> np.ndarray:
        return pred(batch, style)

    counter = None
    if progress is not None:
        from geo_pix2pix.runtime.progress import counting

        passes = 2 if cfg.probabilities is not None else 1
        plan = plan_mosaic(height, width, tile, overlap)
        total = plan.n_tiles * passes
        if cfg.shard is not None:
            from geo_pix2pix.tiles.mosaic.shard import shard_rows

            rows = shard_rows(plan, cfg.shard)
            total = (rows.tile_rows[1] - rows.first_tile_row) * len(plan.col_starts)
        counter = counting(progress, total)

    if cfg.probabilities is not None:
        pcfg = dataclasses.replace(mcfg, out_stats=ProbabilityOutput(meta.output_stats),
                                   tags={**mcfg.tags, "GEOPIX_OUTPUT": "class probabilities"})
        mosaic_raster(region, cfg.probabilities, run, pcfg, overwrite=cfg.overwrite, progress=counter)

    job = job_id(pred, cfg, mcfg) if cfg.shard is not None else ""
    return mosaic_raster(region, out, run, mcfg, overwrite=cfg.overwrite, progress=counter, shard=cfg.shard,
                         job=job), pred


def _file_sha256(path: str | os.PathLike[str]) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def job_id(pred: Predictor, cfg: TranslateConfig, mcfg: MosaicConfig) -> str:
    """What identifies one sharded translation's parts: a hash of the model file's bytes and of every
    setting that changes a pixel (bands, tiling, batch, precision, output coding, style, COG options).
    Paths do not enter it (the nodes of a cluster may mount the model elsewhere); file contents do."""
    import hashlib
    import json

    what = {
        "model": _file_sha256(pred.path), "bands": list(mcfg.bands), "tile": mcfg.tile, "overlap": mcfg.overlap,
        "batch": mcfg.batch_size, "amp": str(pred.plan.amp_dtype), "tta": pred.tta, "dtype": cfg.output_dtype,
        "palette": _file_sha256(cfg.palette) if cfg.palette else None,
        "style": _file_sha256(cfg.style) if cfg.style else None, "seed": cfg.seed,
        "options": sorted(mcfg.creation_options.items()),
        "tags": sorted((k, v) for k, v in mcfg.tags.items() if k != "GEOPIX_MODEL"),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]
